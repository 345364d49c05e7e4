// A pause generator: pause is high with probability rate/256 per cycle, drawn from one byte of
// an xorshift32 generator (tb_xorshift32), so idle and backpressure patterns are the same on
// every simulator for the same seed.
//
// Parameters
//   ADVANCE, NONZERO  as tb_xorshift32's.
//   LSB               the drawn byte is state[LSB+7:LSB] (0..24).
// Contract
//   pause = state[LSB+7:LSB] < rate, combinational from the current state (a rate of 0 never
//   pauses); load sets the state from seed, step draws the next value.
`timescale 1ns/1ps
module tb_pause #(
    parameter ADVANCE = 0,
    parameter NONZERO = 1,
    parameter LSB = 24
) (
    input wire clk,
    input wire load,
    input wire [31:0] seed,
    input wire step,
    input wire [7:0] rate,
    output wire pause
);
    // Only one byte of the state is drawn.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] state;
    /* verilator lint_on UNUSEDSIGNAL */

    tb_xorshift32 #(.ADVANCE(ADVANCE), .NONZERO(NONZERO)) rng (
        .clk(clk), .load(load), .seed(seed), .step(step), .state(state)
    );

    assign pause = state[LSB +: 8] < rate;
endmodule
