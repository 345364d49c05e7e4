// A stream source: drives one stream from a file, with random idle cycles.
//
// The file (stimulus) holds one word a line, "WHEN PAYLOAD" or "PAYLOAD" in hex. A word is
// offered once it is due, no more than limit words have been sent and the pause generator
// (idle/256) does not pause; once offered it is held until taken.
//
// Parameters
//   W         payload width.
//   TIMING    what WHEN is. 0: there is no WHEN (lines are "PAYLOAD"): every word is due at once;
//             1: a delay, counted in the cycles the stream's slot is free (the previous word
//             taken) from the cycle the previous word was taken (the first word: from the first
//             cycle of the run), each of which is spent without an offer;
//             2: the first cycle (now) the word may be offered.
//   RECORD    1: every transfer appends "OFFER ACCEPT" (the cycle the word was first offered, the
//             cycle it was taken) to the file accepts; 0: accepts is not used.
//   ADVANCE   the pause generator's (tb_xorshift32).
// Contract
//   start (one cycle) opens the files, drops valid, clears sent and loads the pause generator from
//   seed; while run is high the source works and the generator steps once a cycle; with run low
//   valid drops. stop (with or after the run's last cycle) drops valid and closes the files.
//   A stimulus file that does not open is a source with no words. sent counts the transfers.
`timescale 1ns/1ps
module tb_stream_source #(
    parameter W = 8,
    parameter TIMING = 1,
    parameter RECORD = 0,
    parameter ADVANCE = 0
) (
    input wire clk,
    input wire start,
    input wire run,
    input wire stop,
    input wire [8*64-1:0] stimulus,
    input wire [8*64-1:0] accepts,
    input wire [31:0] seed,
    input wire [7:0] idle,
    input wire [31:0] limit,
    input wire [31:0] now,
    output reg [W-1:0] payload,
    output reg valid,
    input wire ready,
    output reg [31:0] sent
);
    wire pause;
    wire fire = valid && ready;

    tb_pause #(.ADVANCE(ADVANCE)) idles (
        .clk(clk), .load(start), .seed(seed), .step(run), .rate(idle), .pause(pause)
    );

    // The file's next word, read ahead (internal to this block: blocking, as file reads are).
    integer fd, fa, rc;
    reg have;
    reg [31:0] when, offered;
    reg [W-1:0] word;

    initial begin
        fd = 0;
        fa = 0;
        have = 1'b0;
        valid = 1'b0;
        sent = 32'd0;
    end

    /* verilator lint_off BLKSEQ */
    task read_word;
        begin
            if (TIMING == 0) begin
                rc = $fscanf(fd, "%h\n", word);
                when = 32'd0;
                have = rc == 1;
            end else begin
                rc = $fscanf(fd, "%h %h\n", when, word);
                have = rc == 2;
            end
        end
    endtask

    always @(posedge clk) begin
        if (start) begin
            fd = $fopen(stimulus, "r");
            if (RECORD != 0) fa = $fopen(accepts, "w");
            have = 1'b0;
            if (fd != 0) read_word;
            valid <= 1'b0;
            sent <= 32'd0;
        end else if (run) begin
            if (fire) begin
                sent <= sent + 1;
                if (RECORD != 0) $fwrite(fa, "%h %h\n", offered, now);
            end
            if (!valid || ready) begin
                if (have && TIMING == 1 && when != 0) begin
                    when = when - 1;
                    valid <= 1'b0;
                end else if (have && (TIMING != 2 || when <= now)
                             && sent + {31'd0, fire} < limit && !pause) begin
                    payload <= word;
                    valid <= 1'b1;
                    offered <= now + 1;
                    read_word;
                end else begin
                    valid <= 1'b0;
                end
            end
        end else begin
            valid <= 1'b0;
        end
        if (stop) begin
            valid <= 1'b0;
            if (fd != 0) $fclose(fd);
            if (fa != 0) $fclose(fa);
            fd = 0;
            fa = 0;
        end
    end
    /* verilator lint_on BLKSEQ */
endmodule
