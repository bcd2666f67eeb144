# Writes the six janeaustenr novels as plain text, one file per book.
# Usage: Rscript tools/export_austen.R OUTDIR
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
library(janeaustenr)
books <- list(sensesensibility = sensesensibility, prideprejudice = prideprejudice,
              mansfieldpark = mansfieldpark, emma = emma,
              northangerabbey = northangerabbey, persuasion = persuasion)
for (n in names(books)) {
  con <- file(file.path(out, paste0(n, ".txt")), open = "w", encoding = "UTF-8")
  writeLines(enc2utf8(books[[n]]), con)
  close(con)
}
