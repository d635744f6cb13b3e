/*
 * shim.h: what the two files of the test shim share (shim.c: faults and
 * the calls the station makes; shim_log.c: the call log and the rest of
 * the function list). Test-only.
 */
#ifndef TESTS_HSM_SHIM_H
#define TESTS_HSM_SHIM_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

extern CK_FUNCTION_LIST_PTR shim_real;  /* SoftHSM's list */
extern const char *shim_log_file;       /* $HSM_SHIM_LOG, or NULL */

/* One log line being built (calls may come from several threads). */
struct line {
	char text[4096];
	size_t len;
};

void shim_add(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* shim_emit(l, rv): append " -> CKR_..." and write the line. */
void shim_emit(struct line *l, CK_RV rv);
/* shim_template(l, what, t, n): a template, booleans with values. */
void shim_template(struct line *l, const char *what, CK_ATTRIBUTE_PTR t,
    CK_ULONG n);
void shim_mech(struct line *l, CK_MECHANISM_PTR m);
/* shim_class(l, cls): the name of an object class. */
void shim_class(struct line *l, CK_OBJECT_CLASS cls);
/* shim_attr(l, type): the name of an attribute type. */
void shim_attr(struct line *l, CK_ATTRIBUTE_TYPE type);
void shim_plain(const char *name, CK_RV rv);
int shim_ckr_by_name(const char *name, CK_RV *rv);
/* shim_pass_install(list): the forwarded-by-name functions into ${list}. */
void shim_pass_install(CK_FUNCTION_LIST *list);

/* shim_stop_after_login(): with HSM_SHIM_STOP=FILE, once per process:
 * append "PID DUMPABLE CORE_SOFT CORE_HARD" to FILE and raise SIGSTOP. */
void shim_stop_after_login(void);

/* shim_delay(function): with HSM_SHIM_DELAY=FUNCTION:MS[,...], every call
 * of FUNCTION first sleeps MS ms (a slow token; lets a test kill the
 * station at a chosen step). */
void shim_delay(const char *function);

#endif
