"""The vector unit of d1core: 64-byte SIMD over FP32, BF16, CFP8, CFP16 and INT8/16/32."""
