/*
 * audit_cmd.h: what the files of `station audit` share (cmd_audit.c,
 * cmd_audit_show.c, cmd_audit_report.c).
 */
#ifndef STATION_AUDIT_CMD_H
#define STATION_AUDIT_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"

/* audit_cmd_db_path(home, db, out, size): the database: ${db} (--db), or
 * [audit] database of the home's config. Reports errors; 0 or -1. */
int audit_cmd_db_path(const char *home_opt, const char *db_opt, char *out,
    size_t size);

/* audit_cmd_read_file(path, max, len): the whole file, NUL-terminated,
 * malloc'ed; NULL (reported) if unreadable or larger than ${max}. */
char *audit_cmd_read_file(const char *path, size_t max, size_t *len);

/* audit_cmd_read_key(path): the PEM public keys in ${path}, or those of
 * the certificates in it; malloc'ed, NULL if unreadable (reported). */
char *audit_cmd_read_key(const char *path);

/* audit_cmd_default_key(home, db, out, size): without --db, the home's
 * [pki] audit_cert if that file exists: 0 and its path; else 1. */
int audit_cmd_default_key(const char *home_opt, const char *db_opt,
    char *out, size_t size);

/* audit_cmd_verify(db, key, anchor, r): read the key and anchor files and
 * verify; -1 (reported) when verification could not run. */
int audit_cmd_verify(const char *db, const char *key_path,
    const char *anchor_path, struct audit_verify_result *r);

/* audit_cmd_print_result(out, db, r): the verification summary. */
void audit_cmd_print_result(FILE *out, const char *db,
    const struct audit_verify_result *r);

/* audit_cmd_time(us, buf): "YYYY-MM-DDTHH:MM:SSZ" (UTC). */
void audit_cmd_time(int64_t us, char buf[static 32]);

/* Subcommands. */
int audit_cmd_show(int argc, char *argv[]);
int audit_cmd_report(int argc, char *argv[]);

#endif
