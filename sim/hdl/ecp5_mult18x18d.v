// A simulation model of the part of Lattice's ECP5 MULT18X18D that mnaccel instantiates
// (hw.products.registered_product, `hw.generate --target ecp5`): an 18x18 multiplier with
// optional input, pipeline and output registers on CLK0, each with its clock enable
// (CE0..CE3) and synchronous reset (RST0..RST3) chosen by parameter, and SIGNEDA/SIGNEDB.
// Written from Lattice's "ECP5 and ECP5-5G sysDSP Usage Guide" (FPGA-TN-02205) register
// description; the shift-register (SRIA/SRIB, SROA/SROB) and cascade (ROA/ROB/ROC, C)
// functions are not modelled and their outputs are 0. Not for the vendor's own
// simulation flow (use Lattice's library there): for this project's tests, which compare
// the ECP5 netlist with the portable one bit for bit and cycle for cycle.
module MULT18X18D (
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
    input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8,
    input SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8,
    input SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    wire [3:0] ce = {CE3, CE2, CE1, CE0};
    wire [3:0] rst = {RST3, RST2, RST1, RST0};

    function enable(input [8*4-1:0] name);
        enable = name == "CE0" ? ce[0] : name == "CE1" ? ce[1] : name == "CE2" ? ce[2] : ce[3];
    endfunction
    function reset(input [8*4-1:0] name);
        reset = name == "RST0" ? rst[0] : name == "RST1" ? rst[1] : name == "RST2" ? rst[2] : rst[3];
    endfunction

    initial begin
        if (REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0" ||
            REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0" ||
            REG_PIPELINE_CLK != "NONE" && REG_PIPELINE_CLK != "CLK0" ||
            REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0") begin
            $display("MULT18X18D model: only CLK0 (or NONE) registers are modelled");
            $finish;
        end
    end

    reg [17:0] a_q = 0, b_q = 0;
    reg sa_q = 0, sb_q = 0;
    always @(posedge CLK0) begin
        if (enable(REG_INPUTA_CE)) begin
            a_q <= reset(REG_INPUTA_RST) ? 18'd0 : a;
            sa_q <= reset(REG_INPUTA_RST) ? 1'b0 : SIGNEDA;
        end
        if (enable(REG_INPUTB_CE)) begin
            b_q <= reset(REG_INPUTB_RST) ? 18'd0 : b;
            sb_q <= reset(REG_INPUTB_RST) ? 1'b0 : SIGNEDB;
        end
    end
    wire [17:0] a_in = REG_INPUTA_CLK == "NONE" ? a : a_q;
    wire [17:0] b_in = REG_INPUTB_CLK == "NONE" ? b : b_q;
    wire sa = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_q;
    wire sb = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_q;
    wire [35:0] product = $signed({sa & a_in[17], a_in}) * $signed({sb & b_in[17], b_in});
    wire signed_product = sa | sb;

    reg [35:0] pipe_q = 0, out_q = 0;
    reg pipe_s = 0, out_s = 0;
    always @(posedge CLK0) begin
        if (enable(REG_PIPELINE_CE)) begin
            pipe_q <= reset(REG_PIPELINE_RST) ? 36'd0 : product;
            pipe_s <= reset(REG_PIPELINE_RST) ? 1'b0 : signed_product;
        end
    end
    wire [35:0] piped = REG_PIPELINE_CLK == "NONE" ? product : pipe_q;
    wire piped_s = REG_PIPELINE_CLK == "NONE" ? signed_product : pipe_s;
    always @(posedge CLK0) begin
        if (enable(REG_OUTPUT_CE)) begin
            out_q <= reset(REG_OUTPUT_RST) ? 36'd0 : piped;
            out_s <= reset(REG_OUTPUT_RST) ? 1'b0 : piped_s;
        end
    end
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = REG_OUTPUT_CLK == "NONE" ? piped : out_q;
    assign SIGNEDP = REG_OUTPUT_CLK == "NONE" ? piped_s : out_s;
endmodule
