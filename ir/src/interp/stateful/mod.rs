//! Sequence ops that carry a recurrent state between calls: LinearAttention and
//! CausalConvWithState.

mod causal_conv;
mod linear_attention;

pub use causal_conv::causal_conv_with_state;
pub use linear_attention::linear_attention;
