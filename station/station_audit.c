/*
 * station_audit.c: opening the station's audit database for a verb that
 * writes it, with the HSM audit key as checkpoint signer.
 *
 * The order matters. The token is open (the officer's PIN was right)
 * before the database is touched, so a wrong PIN records nothing. The
 * audit key is found and checked against [pki] audit_cert and the root
 * (pki_role_key), its public half handed to audit_set_signer, which makes
 * a test signature first and records the key (audit.key) the first time
 * it sees it. Then session.started names the actor and verb; at close
 * session.ended and a checkpoint over it seal the session, so an officer's
 * `station audit verify` finds nothing unsealed after a verb has run.
 *
 * The actor is the login name of the effective user, as "officer:NAME":
 * every verb that writes the log outside the bench loop asks for the
 * officer's PIN itself (ARCHITECTURE.md, Roles).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "station/airgap.h"
#include "station/clock.h"
#include "station/pki.h"
#include "station/station.h"
#include "station/station_audit.h"

void
station_audit_actor(char actor[static AUDIT_ACTOR_MAX + 1])
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0' &&
	    audit_text_valid(pw->pw_name, strlen(pw->pw_name)))
		snprintf(actor, AUDIT_ACTOR_MAX + 1, "officer:%s", pw->pw_name);
	else
		snprintf(actor, AUDIT_ACTOR_MAX + 1, "officer:uid%u",
		    (unsigned)geteuid());
}

/* add_pubkey(out, k): append ${k} as a PEM public key to ${out}. */
static int
add_pubkey(BIO *out, EVP_PKEY *k)
{
	return k != NULL && PEM_write_bio_PUBKEY(out, k) == 1 ? 0 : -1;
}

int
station_audit_pubkey_pem(const char *file, char **pem)
{
	FILE *f;
	BIO *out = NULL;
	char *name = NULL, *header = NULL, *data;
	unsigned char *der = NULL;
	const unsigned char *p;
	long len;
	int n = 0, ret = -1;

	*pem = NULL;
	if ((f = fopen(file, "r")) == NULL) {
		if (errno == ENOENT)
			return 1;
		station_err("cannot read %s: %s", file, strerror(errno));
		return -1;
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL)
		goto bad;
	/* Every PEM object of the file: certificates give their key, public
	 * keys are taken as they are (several: a log across a rotation). */
	while (PEM_read(f, &name, &header, &der, &len) == 1) {
		EVP_PKEY *k = NULL;
		X509 *x = NULL;

		p = der;
		if (strcmp(name, "CERTIFICATE") == 0 &&
		    (x = d2i_X509(NULL, &p, len)) != NULL)
			k = X509_get_pubkey(x);
		else if (strcmp(name, "PUBLIC KEY") == 0)
			k = d2i_PUBKEY(NULL, &p, len);
		if (p != der + len || add_pubkey(out, k) != 0) {
			EVP_PKEY_free(k);
			X509_free(x);
			goto bad;
		}
		EVP_PKEY_free(k);
		X509_free(x);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
		n++;
	}
	ERR_clear_error();   /* PEM_read's "no start line" at the end */
	if (n == 0 || (len = BIO_get_mem_data(out, &data)) <= 0 ||
	    (*pem = strndup(data, (size_t)len)) == NULL)
		goto bad;
	ret = 0;
	goto cleanup;
bad:
	station_err("%s: expected PEM certificates or public keys", file);
cleanup:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(out);
	fclose(f);
	return ret;
}

/* not_initialised(cfg): the message for a home without a database. */
static int
not_initialised(const struct station_config *cfg)
{
	station_err("no audit database %s: run 'station init --home %s' first",
	    cfg->audit_database, cfg->home);
	return -2;
}

int
station_audit_peek(const struct station_config *cfg, struct audit **out)
{
	char err[AUDIT_ERR_MAX];

	*out = NULL;
	if (access(cfg->audit_database, F_OK) != 0)
		return not_initialised(cfg);
	if ((*out = audit_open_readonly(cfg->audit_database, err)) == NULL) {
		station_err("%s", err);
		return -1;
	}
	if (strcmp(audit_station_id(*out), cfg->station_id) != 0) {
		station_err("%s: the database belongs to station '%s', not '%s' "
		    "(check [station] id and [audit] database)",
		    cfg->audit_database, audit_station_id(*out), cfg->station_id);
		audit_close(*out);
		*out = NULL;
		return -2;
	}
	return 0;
}

/* the signer: the audit key of the token, its certificate checked. */
static int
set_signer(const struct station_config *cfg, struct hsm *h,
    struct station_audit *sa)
{
	struct hsm_key *key;
	EVP_PKEY *pub = NULL;
	BIO *b = NULL;
	char *data, *pem = NULL;
	long len;
	int ret = -1;

	if (pki_role_key(cfg, h, PKI_ROLE_AUDIT, &key) != 0)
		return -1;
	if ((pub = hsm_key_public(key)) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(b, pub) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0 ||
	    (pem = strndup(data, (size_t)len)) == NULL) {
		station_err("audit-checkpoint key: cannot read its public key");
		goto cleanup;
	}
	if (audit_set_signer(sa->a, hsm_sign, key, pem, sa->actor) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(pem);
	BIO_free(b);
	EVP_PKEY_free(pub);
	return ret;
}

int
station_audit_open(const struct station_config *cfg, struct hsm *h,
    const char *verb, bool create, struct station_audit **out)
{
	struct station_audit *sa;
	struct audit_field f[3];
	char err[AUDIT_ERR_MAX], pid[24], network[AIRGAP_ERR_MAX];
	char clock[CLOCK_ERR_MAX];
	const char *token = hsm_token_label(h);
	int networked, ret = -1;

	*out = NULL;
	/* Production mode: no network (airgap.h), before anything is read. */
	if ((networked = station_airgap_check(cfg, network)) < 0) {
		station_err("%s", network);
		return -1;
	}
	if ((sa = calloc(1, sizeof(*sa))) == NULL) {
		station_err("out of memory");
		return -1;
	}
	station_audit_actor(sa->actor);
	snprintf(sa->verb, sizeof(sa->verb), "%s", verb);
	sa->created = access(cfg->audit_database, F_OK) != 0;
	if (sa->created && !create) {
		ret = not_initialised(cfg);
		goto fail;
	}
	if ((sa->a = audit_open(cfg->audit_database, cfg->station_id,
	    err)) == NULL) {
		station_err("%s", err);
		/* Another station's database: the configuration is wrong. */
		if (strstr(err, "belongs to station") != NULL)
			ret = -2;
		goto fail;
	}
	/* The clock must not be behind the log (clock.h). */
	if (!sa->created && station_clock_check(sa->a, clock) != 0) {
		station_err("%s", clock);
		goto fail;
	}
	audit_set_checkpoint_every(sa->a, cfg->audit_checkpoint_every);
	if (set_signer(cfg, h, sa) != 0)
		goto fail;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	f[0] = (struct audit_field){ "pid", pid, strlen(pid) };
	f[1] = (struct audit_field){ "token", token, strlen(token) };
	f[2] = (struct audit_field){ "verb", sa->verb, strlen(sa->verb) };
	if (audit_append(sa->a, sa->actor, "session.started", cfg->station_id,
	    f, 3, NULL) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		goto fail;
	}
	f[0] = (struct audit_field){ "found", network, strlen(network) };
	if (networked == 1 && audit_append(sa->a, sa->actor,
	    "airgap.overridden", cfg->station_id, f, 1, NULL) != 0) {
		station_err("%s: %s", cfg->audit_database, audit_error(sa->a));
		goto fail;
	}
	*out = sa;
	return 0;
fail:
	audit_close(sa->a);
	free(sa);
	return ret;
}

int
station_audit_close(struct station_audit *sa, bool ok)
{
	const char *result = ok ? "ok" : "failed";
	struct audit_field f[2] = {
		{ "result", result, strlen(result) },
		{ "verb", sa ? sa->verb : "", sa ? strlen(sa->verb) : 0 },
	};
	int ret = -1;

	if (sa == NULL)
		return 0;
	if (audit_append(sa->a, sa->actor, "session.ended",
	    audit_station_id(sa->a), f, 2, NULL) != 0 ||
	    audit_checkpoint(sa->a) != 0)
		station_err("audit: cannot seal the session: %s "
		    "(the events are recorded; the next session seals them)",
		    audit_error(sa->a));
	else
		ret = 0;
	audit_close(sa->a);
	free(sa);
	return ret;
}

int
station_lock(const struct station_config *cfg, const char *verb)
{
	char path[PATH_MAX], *p;
	int fd;

	if (snprintf(path, sizeof(path), "%s.%s-lock", cfg->audit_database,
	    verb) >= (int)sizeof(path)) {
		station_err("%s: %s: path too long", verb, cfg->audit_database);
		return -1;
	}
	for (p = path + strlen(cfg->audit_database); *p != '\0'; p++)
		if (*p == ' ')
			*p = '-';
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		station_err("%s: cannot open %s: %s", verb, path,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		station_err("%s: another 'station %s' is using %s; one at a time "
		    "per station", verb, verb, cfg->audit_database);
		close(fd);
		return -1;
	}
	return fd;
}
