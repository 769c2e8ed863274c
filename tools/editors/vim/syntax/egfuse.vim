" Vim syntax file
" Language: egfuse rule files (*.rules)
" Install:  copy (or symlink) syntax/ and ftdetect/ into ~/.vim (Neovim: ~/.config/nvim).
if exists('b:current_syntax')
  finish
endif

syn iskeyword @,48-57,_,-

syn keyword egfuseDecl       op template rule ruleset schedule phase nextgroup=egfuseDeclName skipwhite
syn keyword egfuseKeyword    include use if
syn keyword egfuseLogic      and or not
syn keyword egfuseClause     prologue epilogue mutates impl cost flops bytes backends extern
syn keyword egfuseProperty   pointwise reduction view commutative associative idempotent
syn keyword egfuseDtype      f32 f16 bf16 i32 i64 bool
syn match   egfuseDeclName   contained "[A-Za-z_][A-Za-z0-9_]*\(-[A-Za-z0-9_]\+\)*"
" Defined after egfuseVariable so that it wins where both start.
syn match   egfuseVariable   "?[A-Za-z_][A-Za-z0-9_]*"
syn match   egfuseVariadic   "?[A-Za-z_][A-Za-z0-9_]*\.\.\."
syn match   egfuseCall       "[A-Za-z_][A-Za-z0-9_]*\ze[({]"
syn match   egfuseNumber     "\<-\?[0-9]\+\(\.[0-9]\+\)\?\([eE][-+]\?[0-9]\+\)\?\(ms\|s\)\?\>"
syn match   egfuseArrow      "<=>\|=>\|->"
syn region  egfuseString     start=+"+ end=+"+ oneline
syn match   egfuseComment    "//.*$" contains=egfuseTodo
syn match   egfuseDocComment "///.*$" contains=egfuseTodo
syn keyword egfuseTodo       contained TODO FIXME XXX NOTE

hi def link egfuseDecl       Keyword
hi def link egfuseKeyword    Keyword
hi def link egfuseLogic      Operator
hi def link egfuseClause     StorageClass
hi def link egfuseProperty   Type
hi def link egfuseDtype      Type
hi def link egfuseDeclName   Function
hi def link egfuseVariable   Identifier
hi def link egfuseVariadic   Identifier
hi def link egfuseCall       Function
hi def link egfuseNumber     Number
hi def link egfuseArrow      Operator
hi def link egfuseString     String
hi def link egfuseComment    Comment
hi def link egfuseDocComment SpecialComment
hi def link egfuseTodo       Todo

let b:current_syntax = 'egfuse'
