// The stream hold rule, checked on one stream: once valid is high while ready is low, valid must
// stay high and the payload unchanged until the transfer (amaranth.lib.stream's rule).
//
// Parameters
//   W  payload width.
// Contract
//   error is high in a cycle with enable high in which the rule is broken (valid dropped or the
//   payload changed after a cycle of enable with valid and not ready); each such cycle also
//   displays "harness: stream NAME: valid or payload changed while waiting for ready, cycle NOW".
//   clear forgets the previous cycle (the start of a run); cycles without enable are not watched.
`timescale 1ns/1ps
module tb_hold_check #(
    parameter W = 8
) (
    input wire clk,
    input wire clear,
    input wire enable,
    input wire [8*32-1:0] name,
    input wire [31:0] now,
    input wire valid,
    input wire ready,
    input wire [W-1:0] payload,
    output wire error
);
    reg held;
    reg [W-1:0] last;

    initial held = 1'b0;

    assign error = enable && held && (!valid || payload != last);

    always @(posedge clk) begin
        if (clear) begin
            held <= 1'b0;
        end else if (enable) begin
            if (error)
                $display("harness: stream %0s: %0s, cycle %0d", name,
                         "valid or payload changed while waiting for ready", now);
            held <= valid && !ready;
            last <= payload;
        end
    end
endmodule
