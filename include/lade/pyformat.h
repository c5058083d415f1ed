/* lade — the two Python packaging formats that both the installer (assembler/python/) and the
 * read-only tools (insight/: inspect's bytes per package, the SBOM) read, written once here on
 * the ground floor so neither has to include the other: PEP 503 names and RECORD's CSV. */
#ifndef LADE_PYFORMAT_H
#define LADE_PYFORMAT_H

/* PEP 503 normalisation (packaging.utils.canonicalize_name): lowercase ASCII, each run of
 * [-_.] becomes "-". New string. */
char *lade_name_normalize(const char *name);

/* One row of a RECORD file as Python's csv module (excel dialect) reads it: "..." quoting
 * with "" for a quote, text after a closing quote kept, rows ending in \n, \r\n or \r. The
 * fields are appended to *fields (a strv; a blank line gives one empty field) and *pos moves
 * past the row. Returns 1 for a row, 0 at the end, -1 on an unterminated quote. */
int lade_csv_row(const char **pos, const char *end, char ***fields);

#endif
