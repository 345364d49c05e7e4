// The run control of a generated harness top: starts a run, counts its cycles and ends it once
// every expected transfer was made or the design hung.
//
// Contract
//   launch is high in a cycle with start high while no run is running, unless start has stayed
//   high since the previous launch (one run per start pulse): the top's sources and sinks then
//   open their files and load their pause generators, and done and timed_out drop. running is
//   high from the next cycle to the run's last; cycles counts the run's cycles (0 in its first)
//   and holds after it. finish is high in the run's last cycle: the first in which finished (the
//   top's counts are met, this cycle's transfers included) is high or that is the timeout-th
//   cycle in a row without moved (a transfer). done rises after it and stays until the next
//   launch; timed_out then tells a hang (finished low) from a complete run. rst ends any run.
`timescale 1ns/1ps
module tb_run_control (
    input wire clk,
    input wire rst,
    input wire start,
    input wire moved,
    input wire finished,
    input wire [31:0] timeout,
    output wire launch,
    output reg running,
    output wire finish,
    output reg done,
    output reg timed_out,
    output reg [31:0] cycles
);
    reg started;
    reg [31:0] quiet;
    wire [31:0] quiet_next = moved ? 32'd0 : quiet + 1;

    assign launch = !running && start && !started;
    assign finish = running && (finished || quiet_next >= timeout);

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            started <= 1'b0;
            done <= 1'b0;
            timed_out <= 1'b0;
            cycles <= 32'd0;
        end else if (!running) begin
            if (!start) started <= 1'b0;
            if (launch) begin
                started <= 1'b1;
                running <= 1'b1;
                done <= 1'b0;
                timed_out <= 1'b0;
                cycles <= 32'd0;
                quiet <= 32'd0;
            end
        end else begin
            cycles <= cycles + 1;
            quiet <= quiet_next;
            if (finish) begin
                timed_out <= !finished;
                running <= 1'b0;
                done <= 1'b1;
            end
        end
    end
endmodule
