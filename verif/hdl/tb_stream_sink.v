// A stream sink: takes one stream into a file, with random backpressure, and checks the stream's
// hold rule (tb_hold_check).
//
// Every transfer appends "NOW PAYLOAD" (hex; "PAYLOAD" without STAMP) to the file responses. ready
// is registered: high in a cycle of the run unless the pause generator (stall/256) paused in the
// cycle before.
//
// Parameters
//   W        payload width.
//   STAMP    1: each line starts with the cycle of the transfer (now); 0: payloads only.
//   ADVANCE  the pause generator's (tb_xorshift32).
// Contract
//   start (one cycle) opens the file, drops ready, clears got and errors, forgets the hold
//   check's previous cycle and loads the pause generator from seed; while run is high the sink
//   works and the generator steps once a cycle; with run low ready drops. stop (with or after the
//   run's last cycle) drops ready and closes the file. got counts the transfers, errors the
//   cycles in which the hold rule was broken (each also displayed, with name and now).
`timescale 1ns/1ps
module tb_stream_sink #(
    parameter W = 8,
    parameter STAMP = 1,
    parameter ADVANCE = 0
) (
    input wire clk,
    input wire start,
    input wire run,
    input wire stop,
    input wire [8*64-1:0] responses,
    input wire [8*32-1:0] name,
    input wire [31:0] seed,
    input wire [7:0] stall,
    input wire [31:0] now,
    input wire [W-1:0] payload,
    input wire valid,
    output reg ready,
    output reg [31:0] got,
    output reg [31:0] errors
);
    wire pause, error;

    tb_pause #(.ADVANCE(ADVANCE)) stalls (
        .clk(clk), .load(start), .seed(seed), .step(run), .rate(stall), .pause(pause)
    );

    tb_hold_check #(.W(W)) hold (
        .clk(clk), .clear(start), .enable(run), .name(name), .now(now), .valid(valid),
        .ready(ready), .payload(payload), .error(error)
    );

    integer fd;

    initial begin
        fd = 0;
        ready = 1'b0;
        got = 32'd0;
        errors = 32'd0;
    end

    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        if (start) begin
            fd = $fopen(responses, "w");
            ready <= 1'b0;
            got <= 32'd0;
            errors <= 32'd0;
        end else if (run) begin
            if (error) errors <= errors + 1;
            if (valid && ready) begin
                if (STAMP != 0) $fwrite(fd, "%h %h\n", now, payload);
                else $fwrite(fd, "%h\n", payload);
                got <= got + 1;
            end
            ready <= !pause;
        end else begin
            ready <= 1'b0;
        end
        if (stop) begin
            ready <= 1'b0;
            if (fd != 0) $fclose(fd);
            fd = 0;
        end
    end
    /* verilator lint_on BLKSEQ */
endmodule
