// A DDR memory behind an AXI4 slave, for simulation: bandwidth, latency and contents
// are set at run time by plusargs, so one build serves every DDR setting.
//
//   +ddr_bw_num=N +ddr_bw_den=D   sustained bytes per cycle N/D (default: the port's peak)
//   +ddr_latency=L                cycles from an accepted AR to the burst being eligible
//   +ddr_image=FILE               $readmemh image (one DATA_BITS-bit word per line)
//   +ddr_dump=FILE +ddr_dump_words=W   where `dump` writes words [0, W) ($writememh)
//
// Reads and writes share the bandwidth: at most one data beat (DATA_BITS/8 bytes) moves
// per cycle, in a cycle in which the credit, which grows by N every cycle, covers
// BYTES * D; credit does not accumulate past one beat's worth while nothing moves, as a
// DDR controller cannot bank idle time. One read burst and one write burst are active
// at a time (in order of their AR / AW); when both have a beat ready the beats
// alternate, as a controller with a write buffer interleaves them. A read burst
// becomes active L cycles after its AR was accepted. Up to QUEUE bursts of each kind are
// accepted ahead. Every response is OKAY and carries the ID of its burst (RID the AR's
// ARID, BID the AW's AWID). Once RVALID is high it stays high until RREADY.
module axi_ddr #(
    parameter DATA_BITS = 64,
    parameter ID_BITS = 1,
    parameter WORDS_LOG2 = 20,
    parameter QUEUE = 16
) (
    input clk,
    input rst,
    input dump,
    input [ID_BITS-1:0] s_axi_awid, output [ID_BITS-1:0] s_axi_bid,
    input [ID_BITS-1:0] s_axi_arid, output [ID_BITS-1:0] s_axi_rid,
    input [31:0] s_axi_awaddr, input [7:0] s_axi_awlen, input [2:0] s_axi_awsize,
    input [1:0] s_axi_awburst, input [3:0] s_axi_awcache, input [2:0] s_axi_awprot,
    input s_axi_awvalid, output s_axi_awready,
    input [DATA_BITS-1:0] s_axi_wdata, input [DATA_BITS/8-1:0] s_axi_wstrb, input s_axi_wlast,
    input s_axi_wvalid, output s_axi_wready,
    output [1:0] s_axi_bresp, output s_axi_bvalid, input s_axi_bready,
    input [31:0] s_axi_araddr, input [7:0] s_axi_arlen, input [2:0] s_axi_arsize,
    input [1:0] s_axi_arburst, input [3:0] s_axi_arcache, input [2:0] s_axi_arprot,
    input s_axi_arvalid, output s_axi_arready,
    output [DATA_BITS-1:0] s_axi_rdata, output [1:0] s_axi_rresp, output s_axi_rlast,
    output s_axi_rvalid, input s_axi_rready
);
    localparam BYTES = DATA_BITS / 8;
    localparam SHIFT = $clog2(BYTES);
    localparam QBITS = $clog2(QUEUE);

    reg [DATA_BITS-1:0] mem [0:(1 << WORDS_LOG2) - 1];
    integer bw_num, bw_den, latency, dump_words, cost;
    reg [8*512-1:0] image, dump_file;
    initial begin
        bw_num = BYTES; bw_den = 1; latency = 0; dump_words = 0;
        if (!$value$plusargs("ddr_bw_num=%d", bw_num)) bw_num = BYTES;
        if (!$value$plusargs("ddr_bw_den=%d", bw_den)) bw_den = 1;
        if (!$value$plusargs("ddr_latency=%d", latency)) latency = 0;
        if (!$value$plusargs("ddr_dump_words=%d", dump_words)) dump_words = 0;
        if (!$value$plusargs("ddr_dump=%s", dump_file)) dump_file = 0;
        if ($value$plusargs("ddr_image=%s", image)) $readmemh(image, mem);
        cost = BYTES * bw_den;
    end
    always @(posedge clk)
        if (dump && dump_words > 0) $writememh(dump_file, mem, 0, dump_words - 1);

    reg [63:0] now;
    integer credit;
    wire can_move = credit >= cost;

    // accepted bursts, waiting
    reg [31:0] ar_addr [0:QUEUE-1];
    reg [7:0] ar_len [0:QUEUE-1];
    reg [ID_BITS-1:0] ar_id [0:QUEUE-1];
    reg [63:0] ar_time [0:QUEUE-1];
    reg [QBITS:0] ar_count;
    reg [QBITS-1:0] ar_head, ar_tail;
    reg [31:0] aw_addr [0:QUEUE-1];
    reg [7:0] aw_len [0:QUEUE-1];
    reg [ID_BITS-1:0] aw_id [0:QUEUE-1];
    reg [QBITS:0] aw_count;
    reg [QBITS-1:0] aw_head, aw_tail;
    reg [15:0] b_pending;
    // IDs of the write responses owed, oldest at b_head (the master's BREADY bounds them)
    reg [ID_BITS-1:0] b_id [0:QUEUE-1];
    reg [QBITS-1:0] b_head, b_tail;

    assign s_axi_arready = ar_count < QUEUE;
    assign s_axi_awready = aw_count < QUEUE;

    // the active bursts
    reg r_active, w_active, r_hold, last_was_read;
    reg [WORDS_LOG2-1:0] r_word, w_word;
    reg [7:0] r_beat, r_len, w_beat, w_len;
    reg [ID_BITS-1:0] r_id, w_id;

    wire w_wants = w_active && s_axi_wvalid;
    wire r_grant = r_active && (r_hold || (can_move && (!w_wants || !last_was_read)));
    assign s_axi_rvalid = r_grant;
    assign s_axi_rdata = mem[r_word];
    assign s_axi_rlast = r_beat == r_len;
    assign s_axi_rresp = 0;
    assign s_axi_rid = r_id;
    // (b_pending < QUEUE: room for the response's ID; a master that holds BREADY high, as
    // mnaccel's does, never has more than one response pending)
    assign s_axi_wready = w_active && can_move && !r_grant && b_pending < QUEUE;
    assign s_axi_bvalid = b_pending != 0;
    assign s_axi_bresp = 0;
    assign s_axi_bid = b_id[b_head];

    wire r_move = s_axi_rvalid && s_axi_rready;
    wire w_move = s_axi_wvalid && s_axi_wready;
    wire r_end = r_move && r_beat == r_len;
    wire w_end = w_move && w_beat == w_len;
    wire ar_in = s_axi_arvalid && s_axi_arready;
    wire aw_in = s_axi_awvalid && s_axi_awready;
    wire b_out = s_axi_bvalid && s_axi_bready;
    wire r_next = (!r_active || r_end) && ar_count != 0 && now >= ar_time[ar_head];
    wire w_next = (!w_active || w_end) && aw_count != 0;
    integer i;

    always @(posedge clk) begin
        if (rst) begin
            now <= 0; credit <= 0; last_was_read <= 0;
            r_active <= 0; w_active <= 0; r_hold <= 0;
            ar_count <= 0; ar_head <= 0; ar_tail <= 0;
            aw_count <= 0; aw_head <= 0; aw_tail <= 0; b_pending <= 0;
            b_head <= 0; b_tail <= 0; r_id <= 0; w_id <= 0;
            r_beat <= 0; r_len <= 0; r_word <= 0; w_beat <= 0; w_len <= 0; w_word <= 0;
        end else begin
            now <= now + 1;
            if (r_move || w_move)
                credit <= credit - cost + bw_num;
            else
                credit <= (credit + bw_num > cost + bw_num) ? credit : credit + bw_num;
            r_hold <= s_axi_rvalid && !s_axi_rready;
            if (r_move) last_was_read <= 1;
            if (w_move) last_was_read <= 0;
            if (ar_in) begin
                ar_addr[ar_tail] <= s_axi_araddr; ar_len[ar_tail] <= s_axi_arlen;
                ar_id[ar_tail] <= s_axi_arid;
                ar_time[ar_tail] <= now + latency; ar_tail <= ar_tail + 1;
            end
            if (aw_in) begin
                aw_addr[aw_tail] <= s_axi_awaddr; aw_len[aw_tail] <= s_axi_awlen;
                aw_id[aw_tail] <= s_axi_awid;
                aw_tail <= aw_tail + 1;
            end
            if (w_move)
                for (i = 0; i < BYTES; i = i + 1)
                    if (s_axi_wstrb[i]) mem[w_word][8*i +: 8] <= s_axi_wdata[8*i +: 8];
            if (r_move) begin r_beat <= r_beat + 1; r_word <= r_word + 1; end
            if (w_move) begin w_beat <= w_beat + 1; w_word <= w_word + 1; end
            if (r_end) r_active <= 0;
            if (w_end) begin
                w_active <= 0; b_id[b_tail] <= w_id; b_tail <= b_tail + 1;
            end
            if (b_out) b_head <= b_head + 1;
            if (r_next) begin
                r_active <= 1; r_beat <= 0; r_len <= ar_len[ar_head];
                r_word <= ar_addr[ar_head] >> SHIFT; ar_head <= ar_head + 1;
                r_id <= ar_id[ar_head];
            end
            if (w_next) begin
                w_active <= 1; w_beat <= 0; w_len <= aw_len[aw_head];
                w_word <= aw_addr[aw_head] >> SHIFT; aw_head <= aw_head + 1;
                w_id <= aw_id[aw_head];
            end
            ar_count <= ar_count + (ar_in ? 1 : 0) - (r_next ? 1 : 0);
            aw_count <= aw_count + (aw_in ? 1 : 0) - (w_next ? 1 : 0);
            b_pending <= b_pending + (w_end ? 1 : 0) - (b_out ? 1 : 0);
        end
    end
endmodule
