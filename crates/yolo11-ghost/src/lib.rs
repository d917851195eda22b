//! yolo11-ghost (under construction)
