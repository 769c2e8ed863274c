" egfuse rule files. Vim maps *.rules to 'hog' (Snort) by default: override it.
autocmd BufRead,BufNewFile *.rules set filetype=egfuse
