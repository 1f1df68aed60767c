// A simulation model of the part of Lattice's ECP5 DP16KD (18 kbit block RAM) that mnaccel
// instantiates (hw.bram.BlockRam, `hw.generate --target ecp5`): port A writes, port B
// reads, both ports the same width (DATA_WIDTH_A == DATA_WIDTH_B: 1, 2, 4, 9, 18, or 36 in
// the pseudo dual port mode, where the 36-bit word is written on DIA (low) and DIB (high)
// and read on DOA (low) and DOB (high), the order of Yosys' own $__PDPW16KD_ mapping).
// Written from Lattice's "ECP5 and ECP5-5G Memory Usage Guide" (TN1264):
// - a word address sits on the high address pins AD[13:14-log2(words)]; in the 18- and
//   36-bit modes AD[1:0] / AD[3:0] are the byte enables of the write port, each covering
//   9 bits (DI[8:0], DI[17:9], DI[26:18], DI[35:27]);
// - a write happens at CLKA when CEA and WEA are high;
// - the array is read at CLKB when CEB is high into the output latch, which holds
//   otherwise; with REGMODE_B = "OUTREG" the output register takes the latch at CLKB when
//   OCEB is high (in the 36-bit mode port B's read controls, CEB and OCEB, serve the whole
//   word; REGMODE_A must equal REGMODE_B there);
// - a read of the address written at the same edge is undefined here: the latch gets X
//   (the portable memory would return the old word; the design never does it).
// Not modelled (the model stops if they are used): writes on port B, reads on port A in
// the narrow modes, RSTA/RSTB, chip selects, INITVAL (the array starts at 0, as
// Amaranth's memories do). For this project's tests, which compare the ECP5 netlist with
// the portable one bit for bit and cycle for cycle; not for the vendor's simulation flow.
module DP16KD (
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input CEA, OCEA, CLKA, WEA, RSTA,
    input CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input CEB, OCEB, CLKB, WEB, RSTB,
    input CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter GSR = "ENABLED";

    localparam W = DATA_WIDTH_B;
    localparam ABITS = W == 1 ? 14 : W == 2 ? 13 : W == 4 ? 12 : W == 9 ? 11 : W == 18 ? 10 : 9;
    localparam WORDS = 1 << ABITS;
    localparam LANE = W >= 18 ? 9 : W;
    localparam LANES = W / LANE;

    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    wire [35:0] di = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
                      DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [ABITS-1:0] waddr = ada[13:14-ABITS];
    wire [ABITS-1:0] raddr = adb[13:14-ABITS];
    wire [3:0] be = W == 36 ? ada[3:0] : W == 18 ? {2'b00, ada[1:0]} : 4'b0001;
    wire writing = CEA && WEA && (be & ((1 << LANES) - 1)) != 0;

    initial begin
        if (DATA_WIDTH_A != DATA_WIDTH_B || (W != 1 && W != 2 && W != 4 && W != 9 && W != 18 && W != 36) ||
            REGMODE_B != "NOREG" && REGMODE_B != "OUTREG" || W == 36 && REGMODE_A != REGMODE_B) begin
            $display("DP16KD model: unsupported DATA_WIDTH_A/B or REGMODE_A/B");
            $finish;
        end
    end

    reg [W-1:0] mem [0:WORDS-1];
    integer i;
    initial for (i = 0; i < WORDS; i = i + 1) mem[i] = 0;

    always @(posedge CLKA) begin
        if (writing)
            for (i = 0; i < LANES; i = i + 1)
                if (be[i])
                    mem[waddr][i * LANE +: LANE] <= di[i * LANE +: LANE];
    end

    reg [W-1:0] latch = 0, out_q = 0;
    always @(posedge CLKB) begin
        if (WEB || RSTA || RSTB || W < 36 && (CEA && !WEA)) begin
            $display("DP16KD model: port B writes, port A reads and resets are not modelled");
            $finish;
        end
        if (CEB)
            latch <= writing && waddr == raddr ? {W{1'bx}} : mem[raddr];
        if (OCEB)
            out_q <= latch;
    end
    wire [35:0] dout = REGMODE_B == "OUTREG" ? out_q : latch;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} =
        W == 36 ? dout[17:0] : 18'd0;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} =
        W == 36 ? dout[35:18] : dout[17:0];
endmodule
