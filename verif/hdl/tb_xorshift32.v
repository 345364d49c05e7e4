// The xorshift32 generator (shifts 13, 17, 5, as hw/fp/rng.py and verif/fp/rng.py define it)
// under every harness's pause generator: one state register, loaded from a seed and stepped on
// demand, so that a seed gives the same sequence on every simulator.
//
// Parameters
//   ADVANCE  steps applied at load (0 or 1): 1 makes the first value used the seed's successor.
//   NONZERO  1: a zero seed (xorshift's fixed point, a generator stuck at 0) loads 32'h2545F491
//            instead; 0: the seed is loaded as it is.
// Contract
//   load has priority over step; state changes only on load or step.
`timescale 1ns/1ps
module tb_xorshift32 #(
    parameter ADVANCE = 0,
    parameter NONZERO = 1
) (
    input wire clk,
    input wire load,
    input wire [31:0] seed,
    input wire step,
    output reg [31:0] state
);
    function [31:0] successor(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            successor = y ^ (y << 5);
        end
    endfunction

    wire [31:0] seeded = (NONZERO != 0 && seed == 32'h0) ? 32'h2545F491 : seed;

    initial state = 32'h2545F491;

    always @(posedge clk) begin
        if (load) state <= (ADVANCE != 0) ? successor(seeded) : seeded;
        else if (step) state <= successor(state);
    end
endmodule
