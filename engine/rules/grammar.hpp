// The rule language grammar (docs/rule-language.md), one small named PEGTL rule
// per construct. No actions here: parser.cpp selects nodes of the parse tree and
// turns them into the AST. A file is parsed one top-level item at a time (see
// `item`), so that after an error the parser can resume at the next item.
// Included by parser.cpp only (PEGTL costs compile time).
#pragma once

#include <tao/pegtl.hpp>

namespace egfuse::rules::grammar {
using namespace tao::pegtl;

// ---------------------------------------------------------------- lexical
// `// text` comment; `/// text` doc comment (attached to the next item by the parser).
struct comment : seq<two<'/'>, until<eolf>> {};
struct sp : star<sor<space, comment>> {};

// An identifier may contain inner dashes (rule names: inline-pointwise).
struct ident_tail : sor<identifier_other, seq<one<'-'>, identifier_other>> {};
template <char... C>
struct kw : seq<string<C...>, not_at<ident_tail>> {};

struct kw_include : kw<'i', 'n', 'c', 'l', 'u', 'd', 'e'> {};
struct kw_op : kw<'o', 'p'> {};
struct kw_template : kw<'t', 'e', 'm', 'p', 'l', 'a', 't', 'e'> {};
struct kw_rule : kw<'r', 'u', 'l', 'e'> {};
struct kw_ruleset : kw<'r', 'u', 'l', 'e', 's', 'e', 't'> {};
struct kw_schedule : kw<'s', 'c', 'h', 'e', 'd', 'u', 'l', 'e'> {};
struct kw_phase : kw<'p', 'h', 'a', 's', 'e'> {};
struct kw_use : kw<'u', 's', 'e'> {};
struct kw_if : kw<'i', 'f'> {};
struct kw_and : kw<'a', 'n', 'd'> {};
struct kw_or : kw<'o', 'r'> {};
struct kw_not : kw<'n', 'o', 't'> {};
struct reserved : sor<kw_include, kw_op, kw_template, kw_ruleset, kw_rule, kw_schedule, kw_phase, kw_use, kw_if,
                      kw_and, kw_or, kw_not> {};

struct ident : seq<not_at<reserved>, identifier_first, star<identifier_other>,
                   star<seq<one<'-'>, plus<identifier_other>>>> {};
// Punctuation followed by spacing.
template <char... C>
struct sym : seq<string<C...>, sp> {};

struct number : seq<opt<one<'-'>>, plus<digit>, opt<one<'.'>, plus<digit>>,
                    opt<one<'e', 'E'>, opt<one<'+', '-'>>, plus<digit>>, not_at<identifier_other>> {};
struct integer : seq<plus<digit>, not_at<identifier_other>> {};
struct string_lit : seq<one<'"'>, star<not_one<'"', '\n'>>, one<'"'>> {};
// Symbolic op names (+ * -> & | ~ ...), never the rule arrows or a comment.
struct symop_char : one<'+', '-', '*', '/', '&', '|', '~', '^', '%', '<', '>', '=', '!'> {};
struct symop : seq<not_at<sor<string<'<', '=', '>'>, string<'=', '>'>, two<'/'>>>, plus<symop_char>> {};

// ---------------------------------------------------------------- dimensions
// Integer expressions over shape variables: shapes [M, K] and cost formulas.
struct dim_expr;
struct dim_var : seq<identifier_first, star<identifier_other>> {};
struct dim_int : integer {};
struct dim_paren : seq<sym<'('>, must<dim_expr>, must<one<')'>>> {};
struct dim_atom : sor<dim_int, dim_var, dim_paren> {};
struct dim_mulop : one<'*', '/'> {};
struct dim_addop : seq<one<'+', '-'>, not_at<one<'>'>>> {};
struct dim_term : seq<dim_atom, sp, star<dim_mulop, sp, must<dim_atom>, sp>> {};
struct dim_expr : seq<dim_term, star<dim_addop, sp, must<dim_term>>> {};
struct shape_lit : seq<one<'['>, sp, opt<list<dim_expr, sym<','>>>, must<one<']'>>> {};

// ---------------------------------------------------------------- patterns
struct pattern;
struct var_name : seq<one<'?'>, identifier_first, star<identifier_other>> {};
struct ellipsis : string<'.', '.', '.'> {};

struct attr_key : ident {};
struct attr_list_value : seq<one<'['>, sp, opt<list<seq<sor<number, ident>, sp>, sym<','>>>, must<one<']'>>> {};
struct attr_value : sor<attr_list_value, number, string_lit, ident> {};
struct attr : seq<attr_key, sp, must<sym<'='>>, must<attr_value>, sp> {};
struct attrs : seq<one<'{'>, sp, opt<list<attr, sym<','>>>, must<one<'}'>>> {};

struct call_args : opt<list<seq<pattern, sp>, sym<','>>> {};
struct head_name : sor<ident, symop> {};
struct head_var : var_name {};
// f(a, b) and ?p(a, b): no space before '(' (inside an s-expression, `x (y)` is two arguments).
struct p_call : seq<head_name, opt<attrs>, one<'('>, sp, call_args, must<one<')'>>> {};
struct p_var_call : seq<head_var, opt<attrs>, one<'('>, sp, call_args, must<one<')'>>> {};
struct sexpr_head : sor<head_var, head_name> {};
struct p_sexpr : seq<one<'('>, sp, must<sexpr_head>, opt<attrs>, sp, star<pattern, sp>, must<one<')'>>> {};
struct p_varargs : seq<var_name, ellipsis> {};
struct p_var : var_name {};
struct p_number : number {};
struct p_symbol : ident {};
struct pattern : sor<p_number, p_var_call, p_varargs, p_var, p_sexpr, p_call, p_symbol> {};

// ---------------------------------------------------------------- guards
struct g_or;
struct g_fname : ident {};
struct g_arg : sor<shape_lit, pattern> {};
struct g_call : seq<g_fname, one<'('>, sp, opt<list<seq<g_arg, sp>, sym<','>>>, must<sym<')'>>> {};
struct g_literal : sor<shape_lit, number, ident> {};
struct g_operand : sor<g_call, g_literal> {};
struct g_cmpop : sor<string<'=', '='>, string<'!', '='>, string<'<', '='>, string<'>', '='>, one<'<'>, one<'>'>> {};
struct g_rhs_operand : g_operand {};
struct g_compare : seq<g_operand, sp, opt<g_cmpop, sp, must<g_rhs_operand>, sp>> {};
struct g_paren : seq<sym<'('>, must<g_or>, must<sym<')'>>> {};
struct g_unary;
struct g_not : seq<kw_not, sp, must<g_unary>> {};
struct g_unary : sor<g_not, g_paren, g_compare> {};
struct g_and : list<g_unary, seq<kw_and, sp>> {};
struct g_or : list<g_and, seq<kw_or, sp>> {};
struct guard_expr : g_or {};

// ---------------------------------------------------------------- declarations
struct include_path : string_lit {};
struct include_decl : seq<kw_include, sp, must<include_path>> {};

// op NAME{attr: kind, ...}(param: type, rest...) -> type properties... = definition
struct op_name : sor<ident, symop> {};
struct type_text : sor<seq<ident, opt<shape_lit>>, shape_lit> {};
struct param_name : ident {};
struct param_variadic : ellipsis {};
struct param_type : type_text {};
struct op_param : seq<param_name, opt<param_variadic>, sp, opt<sym<':'>, must<param_type>, sp>> {};
struct attr_kind : ident {};
struct attr_decl : seq<attr_key, sp, must<sym<':'>>, must<attr_kind>, sp> {};
struct attr_decls : seq<one<'{'>, sp, opt<list<attr_decl, sym<','>>>, must<one<'}'>>> {};
struct result_type : type_text {};
struct op_property : ident {};
struct op_definition : seq<sym<'='>, must<pattern>> {};
struct op_params : seq<sym<'('>, opt<list<op_param, sym<','>>>, must<one<')'>>> {};
struct op_decl : seq<kw_op, sp, must<op_name>, opt<attr_decls>, sp, must<op_params>, sp,
                     opt<sym<'-', '>'>, must<result_type>, sp>, star<op_property, sp>, opt<op_definition>> {};

// template NAME(in: dtype[dims], ...) -> dtype[dims] clauses...
struct tmpl_name : ident {};
struct dtype_name : ident {};
struct tensor_type : seq<opt<dtype_name>, must<shape_lit>> {};
struct tmpl_input : seq<param_name, sp, must<sym<':'>>, must<tensor_type>, sp> {};
struct tmpl_output : tensor_type {};
struct clause_name : ident {};
struct name_list : list<seq<clause_name, sp>, sym<','>> {};
struct c_prologue : seq<kw<'p', 'r', 'o', 'l', 'o', 'g', 'u', 'e'>, sp, must<name_list>> {};
struct c_epilogue : seq<kw<'e', 'p', 'i', 'l', 'o', 'g', 'u', 'e'>, sp> {};
struct c_mutates : seq<kw<'m', 'u', 't', 'a', 't', 'e', 's'>, sp, must<name_list>> {};
struct c_impl : seq<kw<'i', 'm', 'p', 'l'>, sp, must<clause_name>, sp> {};
struct cost_key : sor<kw<'f', 'l', 'o', 'p', 's'>, kw<'b', 'y', 't', 'e', 's'>> {};
struct cost_item : seq<cost_key, sp, must<dim_expr>, sp> {};
struct c_cost : seq<kw<'c', 'o', 's', 't'>, sp, must<cost_item>, star<cost_item>> {};
struct c_backends : seq<kw<'b', 'a', 'c', 'k', 'e', 'n', 'd', 's'>, sp, must<name_list>> {};
struct c_extern : seq<kw<'e', 'x', 't', 'e', 'r', 'n'>, sp> {};
struct tmpl_clause : sor<c_prologue, c_epilogue, c_mutates, c_impl, c_cost, c_backends, c_extern> {};
struct tmpl_inputs : seq<sym<'('>, opt<list<tmpl_input, sym<','>>>, must<one<')'>>> {};
struct template_decl : seq<kw_template, sp, must<tmpl_name>, sp, must<tmpl_inputs>, sp, must<sym<'-', '>'>>,
                           must<tmpl_output>, sp, star<tmpl_clause>> {};

// rule NAME: lhs => rhs  [if guard]
struct rule_name : ident {};
struct arrow : sor<string<'<', '=', '>'>, string<'=', '>'>> {};
struct lhs : pattern {};
struct rhs : pattern {};
struct guard_clause : seq<kw_if, sp, must<guard_expr>> {};
struct rule_decl : seq<kw_rule, sp, must<rule_name>, sp, must<sym<':'>>, must<lhs>, sp, must<arrow>, sp,
                       must<rhs>, sp, opt<guard_clause>> {};

// ruleset NAME {  rules and `use` lines  }   (the braces are items of their own)
struct ruleset_name : ident {};
struct ruleset_open : seq<kw_ruleset, sp, must<ruleset_name>, sp, must<one<'{'>>> {};
struct use_name : ident {};
struct use_decl : seq<kw_use, sp, must<list<seq<use_name, sp>, sym<','>>>> {};

// schedule NAME {  phase NAME: key value, ...  }
struct schedule_name : ident {};
struct schedule_open : seq<kw_schedule, sp, must<schedule_name>, sp, must<one<'{'>>> {};
struct phase_name : ident {};
struct setting_key : sor<kw_ruleset, ident> {};
struct duration : seq<plus<digit>, opt<one<'.'>, plus<digit>>, sor<string<'m', 's'>, one<'s'>>, not_at<identifier_other>> {};
struct setting_value : sor<duration, number, ident> {};
struct phase_setting : seq<setting_key, sp, must<setting_value>, sp> {};
struct phase_decl : seq<kw_phase, sp, must<phase_name>, sp, must<sym<':'>>, must<list<phase_setting, sym<','>>>> {};
struct block_close : one<'}'> {};

struct item : sor<include_decl, op_decl, template_decl, ruleset_open, rule_decl, use_decl, schedule_open,
                  phase_decl, block_close> {};
// One top-level item and the spacing after it.
struct top_item : seq<must<item>, sp> {};

}  // namespace egfuse::rules::grammar
