// PEGTL grammar of the graph text format (docs/graph-format.md). Private to
// engine/graph_text: only parser.cpp includes it. Every rule is small and
// named; each rule used under must<> has an "expected ..." message below.
#pragma once

#include <tao/pegtl.hpp>

namespace egfuse::graph_text::grammar {

namespace pegtl = tao::pegtl;
using namespace pegtl;

// ---------------------------------------------------------------- lexical
struct sp : star<blank> {};  // spaces and tabs only: statements end at a newline
struct comment : seq<one<'#'>, star<not_one<'\n'>>> {};
struct trailing : seq<sp, opt<comment>> {};
struct blank_line : seq<trailing, eol> {};
struct gap : star<blank_line> {};  // empty and comment-only lines

struct name_char : sor<alnum, one<'_'>> {};
template <class Str>
struct keyword : seq<Str, not_at<name_char>> {};

struct kw_graph : keyword<TAO_PEGTL_STRING("graph")> {};
struct kw_input : keyword<TAO_PEGTL_STRING("input")> {};
struct kw_output : keyword<TAO_PEGTL_STRING("output")> {};
struct kw_mutable : keyword<TAO_PEGTL_STRING("mutable")> {};
struct kw_extern : keyword<TAO_PEGTL_STRING("extern")> {};
struct kw_strides : keyword<TAO_PEGTL_STRING("strides")> {};
struct kw_offset : keyword<TAO_PEGTL_STRING("offset")> {};

struct integer_text : seq<opt<one<'-'>>, plus<digit>, not_at<name_char>> {};
struct natural_text : seq<plus<digit>, not_at<name_char>> {};
// Matches R or consumes nothing, so a failure under must<> points at its start.
template <class R>
struct whole : seq<at<R>, R> {};

// String literal: backslash escapes the next character (printer escapes " and \).
struct string_char : sor<seq<one<'\\'>, not_one<'\n'>>, not_one<'"', '\n'>> {};
struct string_body : star<string_char> {};
struct string_close : one<'"'> {};
struct string_lit : seq<one<'"'>, string_body, must<string_close>> {};

// ---------------------------------------------------------------- types
struct dtype_word : sor<keyword<TAO_PEGTL_STRING("bf16")>, keyword<TAO_PEGTL_STRING("bool")>,
                        keyword<TAO_PEGTL_STRING("f16")>, keyword<TAO_PEGTL_STRING("f32")>,
                        keyword<TAO_PEGTL_STRING("i32")>, keyword<TAO_PEGTL_STRING("i64")>> {};
struct dtype : whole<dtype_word> {};
struct dim : whole<natural_text> {};
struct dim_close : one<']'> {};
struct shape_open : one<'['> {};
struct shape : seq<shape_open, sp, opt<dim, star<sp, one<','>, sp, must<dim>>>, sp, must<dim_close>> {};
struct stride : whole<integer_text> {};
struct stride_close : one<']'> {};
struct stride_open : one<'['> {};
struct strides : seq<must<stride_open>, sp, opt<stride, star<sp, one<','>, sp, must<stride>>>, sp, must<stride_close>> {};
struct offset_value : whole<integer_text> {};
struct type : seq<must<dtype>, sp, must<shape>, opt<sp, kw_strides, sp, strides>,
                  opt<sp, kw_offset, sp, must<offset_value>>> {};

// ---------------------------------------------------------------- attributes
struct attr_key : identifier {};
struct attr_equals : one<'='> {};
struct float_special : sor<keyword<TAO_PEGTL_STRING("inf")>, keyword<TAO_PEGTL_STRING("nan")>> {};
struct exponent : seq<one<'e', 'E'>, opt<one<'+', '-'>>, must<plus<digit>>> {};
struct fraction : seq<one<'.'>, star<digit>> {};
struct number_value
    : seq<opt<one<'-', '+'>>, sor<float_special, seq<plus<digit>, opt<fraction>, opt<exponent>>>, not_at<name_char>> {};
struct name_value : identifier {};  // true/false, dtype names, other names
struct string_value : string_lit {};
struct list_item : whole<integer_text> {};
struct list_close : one<']'> {};
struct list_value : seq<one<'['>, sp, opt<list_item, star<sp, one<','>, sp, must<list_item>>>, sp, must<list_close>> {};
struct attr_value : sor<list_value, string_value, number_value, name_value> {};
struct attr : seq<attr_key, sp, must<attr_equals>, sp, must<attr_value>> {};
struct first_attr : attr {};
struct attrs_close : one<'}'> {};
struct attrs_open : one<'{'> {};
struct attr_block
    : seq<attrs_open, sp, sor<one<'}'>, seq<must<first_attr>, star<sp, one<','>, sp, must<attr>>, sp, must<attrs_close>>>> {};

// ---------------------------------------------------------------- statements
struct graph_name : identifier {};
struct graph_open : one<'{'> {};
struct header_end : seq<trailing, eol> {};
struct graph_keyword : whole<kw_graph> {};
struct header : seq<must<graph_keyword>, sp, must<graph_name>, sp, must<graph_open>, must<header_end>> {};

struct mutable_flag : seq<kw_mutable, plus<blank>, at<identifier_first>> {};
struct input_name : identifier {};
struct input_colon : one<':'> {};
struct input_end : seq<trailing, eolf> {};
struct input_decl : seq<kw_input, not_at<sp, one<'='>>, sp, opt<mutable_flag>, must<input_name>, sp, must<input_colon>, sp,
                        type, must<input_end>> {};

struct output_name : identifier {};
struct output_value : identifier {};
struct output_item : seq<output_name, opt<sp, one<'='>, sp, must<output_value>>> {};
struct output_end : seq<trailing, eolf> {};
struct output_decl
    : seq<kw_output, not_at<sp, one<'='>>, sp, must<output_item>, star<sp, one<','>, sp, must<output_item>>, must<output_end>> {};

struct value_name : identifier {};
struct value_equals : one<'='> {};
struct arg : identifier {};
struct args_close : one<')'> {};
struct args_open : one<'('> {};
struct args : seq<must<args_open>, sp, sor<one<')'>, seq<must<arg>, star<sp, one<','>, sp, must<arg>>, sp, must<args_close>>>> {};
struct kernel_name : string_lit {};
struct extern_head : seq<kw_extern, sp, must<kernel_name>> {};
struct op_head : identifier {};
struct expr : seq<sor<extern_head, op_head>, sp, args> {};
struct type_annot : seq<one<':'>, sp, type> {};
struct value_end : seq<trailing, eolf> {};
struct value_def
    : seq<value_name, sp, must<value_equals>, sp, must<expr>, sp, opt<attr_block, sp>, opt<type_annot>, must<value_end>> {};

struct statement : sor<input_decl, output_decl, value_def> {};
struct graph_close : one<'}'> {};
struct statements : star<sp, not_at<one<'}'>>, not_at<eof>, must<statement>, gap> {};
struct file_end : seq<trailing, star<sor<blank, comment, eol>>, eof> {};
struct graph_file : seq<gap, sp, header, gap, statements, sp, must<graph_close>, must<file_end>> {};

// ---------------------------------------------------------------- messages
template <class Rule>
inline constexpr const char* expected = nullptr;

#define EGFUSE_EXPECTED(rule, text) \
  template <>                       \
  inline constexpr const char* expected<rule> = text
EGFUSE_EXPECTED(graph_keyword, "expected 'graph NAME {' at the start of the file");
EGFUSE_EXPECTED(graph_name, "expected a graph name after 'graph'");
EGFUSE_EXPECTED(graph_open, "expected '{' after the graph name");
EGFUSE_EXPECTED(header_end, "expected end of line after '{'");
EGFUSE_EXPECTED(statement, "expected a statement: 'input NAME: TYPE', 'NAME = op(ARGS)', 'output NAMES' or '}'");
EGFUSE_EXPECTED(graph_close, "expected '}' to close the graph");
EGFUSE_EXPECTED(file_end, "expected end of file after the graph's closing '}'");
EGFUSE_EXPECTED(string_close, "expected '\"' to close the string");
EGFUSE_EXPECTED(dtype, "expected a dtype (f32, f16, bf16, i32, i64 or bool)");
EGFUSE_EXPECTED(shape, "expected a shape such as [4, 8] after the dtype");
EGFUSE_EXPECTED(dim, "expected a dimension (a non-negative integer)");
EGFUSE_EXPECTED(dim_close, "expected ',' or ']' after a dimension");
EGFUSE_EXPECTED(stride_open, "expected '[' after 'strides'");
EGFUSE_EXPECTED(stride, "expected a stride (an integer)");
EGFUSE_EXPECTED(stride_close, "expected ',' or ']' after a stride");
EGFUSE_EXPECTED(offset_value, "expected an integer after 'offset'");
EGFUSE_EXPECTED(attr_equals, "expected '=' after the attribute name");
EGFUSE_EXPECTED(attr_value, "expected an attribute value: integer, number, true/false, name, \"string\" or [list]");
EGFUSE_EXPECTED(plus<digit>, "expected digits in the exponent");
EGFUSE_EXPECTED(list_item, "expected an integer in the list");
EGFUSE_EXPECTED(list_close, "expected ',' or ']' in the list");
EGFUSE_EXPECTED(first_attr, "expected an attribute 'key=value' or '}'");
EGFUSE_EXPECTED(attr, "expected an attribute 'key=value'");
EGFUSE_EXPECTED(attrs_close, "expected ',' or '}' after an attribute");
EGFUSE_EXPECTED(input_name, "expected an input name after 'input'");
EGFUSE_EXPECTED(input_colon, "expected ':' and a type after the input name");
EGFUSE_EXPECTED(input_end, "expected end of line after the input's type");
EGFUSE_EXPECTED(output_item, "expected an output value name");
EGFUSE_EXPECTED(output_value, "expected a value name after '='");
EGFUSE_EXPECTED(output_end, "expected ',' or end of line after an output");
EGFUSE_EXPECTED(value_equals, "expected '=' after the value name");
EGFUSE_EXPECTED(expr, "expected an op, a template kind or extern \"KERNEL\" after '='");
EGFUSE_EXPECTED(args_open, "expected '(' and the arguments");
EGFUSE_EXPECTED(arg, "expected a value name as argument");
EGFUSE_EXPECTED(args_close, "expected ',' or ')' after an argument");
EGFUSE_EXPECTED(kernel_name, "expected a quoted kernel name after 'extern', e.g. extern \"embedding\"(x)");
EGFUSE_EXPECTED(value_end, "expected '{' attributes, ': TYPE' or end of line");
#undef EGFUSE_EXPECTED

}  // namespace egfuse::graph_text::grammar
