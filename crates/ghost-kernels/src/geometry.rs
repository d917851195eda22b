//! Convolution / pooling window geometry shared by depthwise, dense conv and pooling kernels.

use crate::error::{KernelError, Result};

/// Zero (or -inf for max pooling) padding on each side, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Padding {
    /// Rows added above the input.
    pub top: usize,
    /// Columns added left of the input.
    pub left: usize,
    /// Rows added below the input.
    pub bottom: usize,
    /// Columns added right of the input.
    pub right: usize,
}

impl Padding {
    /// The same padding `p` on all four sides (PyTorch `padding=p`).
    pub fn uniform(p: usize) -> Self {
        Padding {
            top: p,
            left: p,
            bottom: p,
            right: p,
        }
    }
}

/// A sliding window: kernel size, stride and padding (no dilation: none of our models use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Kernel height, pixels (at least 1).
    pub kernel_h: usize,
    /// Kernel width, pixels (at least 1).
    pub kernel_w: usize,
    /// Vertical step between output rows, input pixels (at least 1).
    pub stride_h: usize,
    /// Horizontal step between output columns, input pixels (at least 1).
    pub stride_w: usize,
    /// Padding on each side of the input.
    pub padding: Padding,
}

impl Window {
    /// A square `k x k` window with stride `s` and symmetric padding `p` (PyTorch style).
    pub fn square(k: usize, s: usize, p: usize) -> Self {
        Window {
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            padding: Padding::uniform(p),
        }
    }

    /// Ultralytics' `autopad`: `k / 2` padding ("same" for stride 1, odd k).
    pub fn same(k: usize, s: usize) -> Self {
        Window::square(k, s, k / 2)
    }

    /// Checks the window is usable on an `h x w` input and returns the output size
    /// `((h + top + bottom - kh) / sh + 1, ...)`.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        if self.kernel_h == 0 || self.kernel_w == 0 {
            return Err(KernelError::param(
                "kernel",
                "kernel size must be at least 1",
            ));
        }
        if self.stride_h == 0 || self.stride_w == 0 {
            return Err(KernelError::param("stride", "stride must be at least 1"));
        }
        let p = &self.padding;
        if p.top >= self.kernel_h
            || p.bottom >= self.kernel_h
            || p.left >= self.kernel_w
            || p.right >= self.kernel_w
        {
            return Err(KernelError::param(
                "padding",
                format!(
                    "{p:?} must be smaller than the kernel {}x{}",
                    self.kernel_h, self.kernel_w
                ),
            ));
        }
        let ph = h + p.top + p.bottom;
        let pw = w + p.left + p.right;
        if ph < self.kernel_h || pw < self.kernel_w {
            return Err(KernelError::param(
                "kernel",
                format!(
                    "{}x{} window does not fit the padded {ph}x{pw} input",
                    self.kernel_h, self.kernel_w
                ),
            ));
        }
        Ok((
            (ph - self.kernel_h) / self.stride_h + 1,
            (pw - self.kernel_w) / self.stride_w + 1,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_match_pytorch() {
        assert_eq!(Window::same(3, 1).output_size(7, 5).unwrap(), (7, 5));
        assert_eq!(Window::same(3, 2).output_size(7, 5).unwrap(), (4, 3));
        assert_eq!(Window::same(5, 2).output_size(1, 1).unwrap(), (1, 1));
        assert_eq!(Window::square(3, 2, 0).output_size(7, 7).unwrap(), (3, 3));
    }

    #[test]
    fn bad_windows_are_errors() {
        assert!(Window::square(0, 1, 0).output_size(4, 4).is_err());
        assert!(Window::square(3, 0, 1).output_size(4, 4).is_err());
        assert!(Window::square(3, 1, 3).output_size(4, 4).is_err());
        assert!(Window::square(5, 1, 0).output_size(4, 4).is_err());
    }
}
