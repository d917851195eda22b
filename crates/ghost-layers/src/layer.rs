//! What every layer can say about itself without running: its output shape and its cost.

use crate::cost::{Cost, CostRow};
use crate::error::Result;

/// Shape and cost introspection shared by all layers (used to build cost tables and to plan
/// buffers before running).
pub trait Layer {
    /// The layer's name: its weight prefix (e.g. `blocks.3.0`), used in errors and tables.
    fn name(&self) -> &str;

    /// The kind of layer (`ConvBnAct`, `GhostModule`, ...).
    fn kind(&self) -> &'static str;

    /// Output shape (NHWC) for an input of shape `input` (NHWC), or a shape error.
    fn output_shape(&self, input: [usize; 4]) -> Result<[usize; 4]>;

    /// Parameters and FLOPs for an input of shape `input` (NHWC), counted as thop does.
    fn cost(&self, input: [usize; 4]) -> Result<Cost>;

    /// One cost-table row for an input of shape `input`.
    fn cost_row(&self, input: [usize; 4]) -> Result<CostRow> {
        Ok(CostRow {
            name: self.name().to_string(),
            kind: self.kind().to_string(),
            input,
            output: self.output_shape(input)?,
            cost: self.cost(input)?,
        })
    }
}
