/*
 * orders.c: the token's record of imported production orders and the
 * number of identities allocated under each (see hsm.h).
 *
 * One private, modifiable CKO_DATA token object per order, CKA_LABEL
 * "order:<id>", CKA_APPLICATION "station-order", CKA_VALUE the count as 8
 * bytes big-endian. Private objects need the officer's login to read or
 * change, so an operator cannot reset them; a database copied back to an
 * older state leaves them where they were, which is how the station
 * notices the rollback. A software token (SoftHSM) keeps them in files an
 * administrator could also copy back; a real HSM with a monotonic counter
 * would not let even that happen (docs/ORDERS.md).
 *
 * The calls go through the module's own function list, reached by
 * dlopen()ing the module again (the handle libp11 holds, reference
 * counted; already initialised), in a session of their own that shares
 * the application's login.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "hsm/internal.h"

#define APPLICATION "station-order"

struct session {
	void *dl;
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
};

static bool
order_id_ok(const char *id)
{
	size_t len = strlen(id);

	return len >= 1 && len <= 64 && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

static int
session_open(struct hsm *h, const char *module, const char *order_id,
    struct session *ss, char err[static HSM_ERR_MAX])
{
	CK_C_GetFunctionList get;
	CK_RV rv;

	memset(ss, 0, sizeof(*ss));
	if (!order_id_ok(order_id)) {
		hsm_fmt(err, "order id '%s': expected 1 to 64 of A-Z a-z 0-9 . _ -",
		    order_id);
		return -1;
	}
	if ((ss->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		hsm_fmt(err, "cannot load %s: %s", module, dlerror());
		return -1;
	}
	*(void **)(&get) = dlsym(ss->dl, "C_GetFunctionList");
	if (get == NULL || get(&ss->f) != CKR_OK || ss->f == NULL) {
		hsm_fmt(err, "%s has no PKCS#11 function list", module);
		goto fail;
	}
	rv = ss->f->C_OpenSession(hsm_slot_id(h), CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &ss->s);
	if (rv != CKR_OK) {
		hsm_fmt(err, "cannot open a session for the order records "
		    "(PKCS#11 error 0x%lx)", rv);
		goto fail;
	}
	return 0;
fail:
	dlclose(ss->dl);
	ss->dl = NULL;
	return -1;
}

static void
session_close(struct session *ss)
{
	if (ss->f != NULL && ss->s != 0)
		ss->f->C_CloseSession(ss->s);
	if (ss->dl != NULL)
		dlclose(ss->dl);
	memset(ss, 0, sizeof(*ss));
}

#define RECORDS_MAX 8

/* find(ss, label, obj, n): the objects labelled ${label} (more than one
 * only after a crash in the middle of hsm_order_counter_set). */
static int
find(struct session *ss, const char *label,
    CK_OBJECT_HANDLE obj[static RECORDS_MAX], CK_ULONG *n,
    char err[static HSM_ERR_MAX])
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_RV rv;

	*n = 0;
	if ((rv = ss->f->C_FindObjectsInit(ss->s, tmpl, 2)) != CKR_OK) {
		hsm_fmt(err, "cannot search the token for %s (PKCS#11 error "
		    "0x%lx)", label, rv);
		return -1;
	}
	rv = ss->f->C_FindObjects(ss->s, obj, RECORDS_MAX, n);
	ss->f->C_FindObjectsFinal(ss->s);
	if (rv != CKR_OK) {
		hsm_fmt(err, "cannot search the token for %s (PKCS#11 error "
		    "0x%lx)", label, rv);
		return -1;
	}
	if (*n == RECORDS_MAX) {
		hsm_fmt(err, "the token holds too many records %s; a security "
		    "officer must resolve this", label);
		return -1;
	}
	return 0;
}

static int
read_count(struct session *ss, CK_OBJECT_HANDLE obj, const char *label,
    uint64_t *count, char err[static HSM_ERR_MAX])
{
	uint8_t v[8];
	CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
	CK_RV rv;

	if ((rv = ss->f->C_GetAttributeValue(ss->s, obj, &a, 1)) != CKR_OK ||
	    a.ulValueLen != sizeof(v)) {
		hsm_fmt(err, "the token's record %s is unreadable or not 8 bytes "
		    "(PKCS#11 error 0x%lx)", label, rv);
		return -1;
	}
	*count = 0;
	for (size_t i = 0; i < 8; i++)
		*count = *count << 8 | v[i];
	return 0;
}

/* read_max(ss, label, obj, n, count): the records and the highest count. */
static int
read_max(struct session *ss, const char *label,
    CK_OBJECT_HANDLE obj[static RECORDS_MAX], CK_ULONG *n, uint64_t *count,
    char err[static HSM_ERR_MAX])
{
	uint64_t c;

	*count = 0;
	if (find(ss, label, obj, n, err) != 0)
		return -1;
	for (CK_ULONG i = 0; i < *n; i++) {
		if (read_count(ss, obj[i], label, &c, err) != 0)
			return -1;
		if (c > *count)
			*count = c;
	}
	return 0;
}

/* create(ss, label, count): a new record. */
static int
create(struct session *ss, const char *label, uint64_t count,
    char err[static HSM_ERR_MAX])
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE obj;
	uint8_t v[8];
	CK_RV rv;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_MODIFIABLE, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_APPLICATION, (void *)APPLICATION, strlen(APPLICATION) },
		{ CKA_VALUE, v, sizeof(v) },
	};

	for (size_t i = 0; i < 8; i++)
		v[i] = (uint8_t)(count >> (56 - 8 * i));
	if ((rv = ss->f->C_CreateObject(ss->s, tmpl, 7, &obj)) != CKR_OK) {
		hsm_fmt(err, "the token refused to write its record %s (PKCS#11 "
		    "error 0x%lx)", label, rv);
		return -1;
	}
	return 0;
}

int
hsm_order_counter_get(struct hsm *h, const char *module, const char *order_id,
    uint64_t *count, char err[static HSM_ERR_MAX])
{
	struct session ss;
	CK_OBJECT_HANDLE obj[RECORDS_MAX];
	CK_ULONG n;
	char label[80];
	int ret = -1;

	if (session_open(h, module, order_id, &ss, err) != 0)
		return -1;
	snprintf(label, sizeof(label), "order:%s", order_id);
	if (read_max(&ss, label, obj, &n, count, err) != 0)
		goto cleanup;
	ret = n == 0 ? 1 : 0;
cleanup:
	session_close(&ss);
	return ret;
}

int
hsm_order_counter_create(struct hsm *h, const char *module,
    const char *order_id, char err[static HSM_ERR_MAX])
{
	struct session ss;
	CK_OBJECT_HANDLE obj[RECORDS_MAX];
	CK_ULONG n;
	char label[80];
	int ret = -1;

	if (session_open(h, module, order_id, &ss, err) != 0)
		return -1;
	snprintf(label, sizeof(label), "order:%s", order_id);
	if (find(&ss, label, obj, &n, err) != 0)
		goto cleanup;
	if (n != 0) {
		hsm_fmt(err, "the token already holds a record of order %s",
		    order_id);
		goto cleanup;
	}
	if (create(&ss, label, 0, err) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	session_close(&ss);
	return ret;
}

/*
 * SoftHSM (like many tokens) keeps CKA_VALUE of a data object read-only,
 * so a new count is a new object, written before the old ones are
 * destroyed: a crash in between leaves two records, and the higher count
 * (the new one) is what counts.
 */
int
hsm_order_counter_set(struct hsm *h, const char *module, const char *order_id,
    uint64_t count, char err[static HSM_ERR_MAX])
{
	struct session ss;
	CK_OBJECT_HANDLE obj[RECORDS_MAX];
	CK_ULONG n;
	uint64_t old;
	char label[80];
	CK_RV rv;
	int ret = -1;

	if (session_open(h, module, order_id, &ss, err) != 0)
		return -1;
	snprintf(label, sizeof(label), "order:%s", order_id);
	if (read_max(&ss, label, obj, &n, &old, err) != 0)
		goto cleanup;
	if (n == 0) {
		hsm_fmt(err, "the token has no record of order %s", order_id);
		goto cleanup;
	}
	if (count < old) {
		hsm_fmt(err, "order %s: the token's count %llu cannot go back to "
		    "%llu", order_id, (unsigned long long)old,
		    (unsigned long long)count);
		goto cleanup;
	}
	if (count == old && n == 1) {
		ret = 0;
		goto cleanup;
	}
	if (create(&ss, label, count, err) != 0)
		goto cleanup;
	for (CK_ULONG i = 0; i < n; i++) {
		if ((rv = ss.f->C_DestroyObject(ss.s, obj[i])) != CKR_OK) {
			hsm_fmt(err, "the token refused to drop an old record of "
			    "order %s (PKCS#11 error 0x%lx)", order_id, rv);
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	session_close(&ss);
	return ret;
}
