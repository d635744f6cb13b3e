/*
 * batch_bare.c: the token's limit for batch generation: the PKCS#11 calls
 * that one batch identity needs, made bare in a tight loop on the same
 * token, straight through the module's function list (no libp11, no
 * certificate encoding, no database, no output):
 *
 *   per identity: C_GenerateKeyPair (P-256 session objects),
 *     C_GetAttributeValue (the point), C_WrapKey (AES key wrap with
 *     padding), two C_DestroyObject, C_SignInit + C_Sign (ECDSA with the
 *     sub-CA key over a SHA-256 of 450 bytes: the certificate);
 *   per 64 identities: a new session, an ephemeral pair, ECDH and AES-ECB
 *     C_DeriveKey (the KEK), C_GenerateRandom of 64 * 28 bytes (claim IDs
 *     and certificate serials).
 *
 *   batch-bare HOME rate SECONDS THREADS   prints identities/s
 *   batch-bare HOME mem N PER_SESSION      N identities on one thread,
 *                                          prints peak RSS in KiB
 *
 * The PIN comes from the home's PIN file; the token from station.conf.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"
#include "station/config.h"
#include "station/pin.h"

#define N(t) (sizeof(t) / sizeof((t)[0]))

static CK_FUNCTION_LIST *f;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE ca_key;
static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07 };
static uint8_t recipient[65];

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
die(const char *what, CK_RV rv)
{
	fprintf(stderr, "batch-bare: %s: 0x%lx\n", what, (unsigned long)rv);
	exit(1);
}

/* A new session with the ephemeral pair, Z and the KEK. */
static CK_SESSION_HANDLE
session(CK_OBJECT_HANDLE *kek)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG aes_len = 32;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub_t[] = { { CKA_TOKEN, &no, 1 },
	    { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
	CK_ATTRIBUTE priv_t[] = { { CKA_TOKEN, &no, 1 },
	    { CKA_SENSITIVE, &yes, 1 }, { CKA_DERIVE, &yes, 1 } };
	CK_ATTRIBUTE z_t[] = { { CKA_CLASS, &secret, sizeof(secret) },
	    { CKA_KEY_TYPE, &aes, sizeof(aes) },
	    { CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
	    { CKA_TOKEN, &no, 1 }, { CKA_DERIVE, &yes, 1 },
	    { CKA_SENSITIVE, &yes, 1 } };
	CK_ATTRIBUTE k_t[] = { { CKA_CLASS, &secret, sizeof(secret) },
	    { CKA_KEY_TYPE, &aes, sizeof(aes) },
	    { CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
	    { CKA_TOKEN, &no, 1 }, { CKA_WRAP, &yes, 1 },
	    { CKA_SENSITIVE, &yes, 1 } };
	CK_ECDH1_DERIVE_PARAMS ecdh = { CKD_NULL, 0, NULL, 65, recipient };
	CK_MECHANISM m_ecdh = { CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh) };
	uint8_t ctx[32] = { 1 }, point[80];
	CK_KEY_DERIVATION_STRING_DATA data = { ctx, 32 };
	CK_MECHANISM m_ecb = { CKM_AES_ECB_ENCRYPT_DATA, &data, sizeof(data) };
	CK_ATTRIBUTE pt = { CKA_EC_POINT, point, sizeof(point) };
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE ep, ek, z;
	CK_RV rv;

	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s)) != CKR_OK)
		die("C_OpenSession", rv);
	if ((rv = f->C_GenerateKeyPair(s, &gen, pub_t, N(pub_t), priv_t,
	    N(priv_t), &ep, &ek)) != CKR_OK ||
	    (rv = f->C_GetAttributeValue(s, ep, &pt, 1)) != CKR_OK ||
	    (rv = f->C_DeriveKey(s, &m_ecdh, ek, z_t, N(z_t), &z)) != CKR_OK ||
	    (rv = f->C_DeriveKey(s, &m_ecb, z, k_t, N(k_t), kek)) != CKR_OK)
		die("session set-up", rv);
	return s;
}

/* One identity's calls. */
static void
identity(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek, long i)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_ATTRIBUTE pub_t[] = { { CKA_TOKEN, &no, 1 }, { CKA_VERIFY, &yes, 1 },
	    { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
	CK_ATTRIBUTE priv_t[] = { { CKA_TOKEN, &no, 1 },
	    { CKA_PRIVATE, &yes, 1 }, { CKA_SENSITIVE, &yes, 1 },
	    { CKA_EXTRACTABLE, &yes, 1 }, { CKA_SIGN, &no, 1 },
	    { CKA_DERIVE, &no, 1 } };
	uint8_t point[80], wrapped[128], tbs[450] = { 0x30 }, digest[32];
	uint8_t sig[80];
	CK_ATTRIBUTE pt = { CKA_EC_POINT, point, sizeof(point) };
	CK_ULONG wlen = sizeof(wrapped), slen = sizeof(sig);
	CK_OBJECT_HANDLE pub, priv;
	CK_RV rv;

	if ((rv = f->C_GenerateKeyPair(s, &gen, pub_t, N(pub_t), priv_t,
	    N(priv_t), &pub, &priv)) != CKR_OK ||
	    (rv = f->C_GetAttributeValue(s, pub, &pt, 1)) != CKR_OK ||
	    (rv = f->C_WrapKey(s, &kwp, kek, priv, wrapped, &wlen)) != CKR_OK)
		die("identity", rv);
	f->C_DestroyObject(s, priv);
	f->C_DestroyObject(s, pub);
	memcpy(tbs + 1, &i, sizeof(i));
	SHA256(tbs, sizeof(tbs), digest);
	if ((rv = f->C_SignInit(s, &ecdsa, ca_key)) != CKR_OK ||
	    (rv = f->C_Sign(s, digest, 32, sig, &slen)) != CKR_OK)
		die("sign", rv);
}

struct worker {
	double until;
	long n, per_session, done;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE s = 0;
	CK_OBJECT_HANDLE kek = 0;
	uint8_t rnd[64 * 28];

	for (w->done = 0; w->n > 0 ? w->done < w->n : now_s() < w->until;
	    w->done++) {
		if (w->done % w->per_session == 0) {
			if (w->done > 0)
				f->C_CloseSession(s);
			s = session(&kek);
		}
		if (w->done % 64 == 0)
			f->C_GenerateRandom(s, rnd, sizeof(rnd));
		identity(s, kek, w->done);
	}
	f->C_CloseSession(s);
	return NULL;
}

static void
setup(const char *home)
{
	static struct station_config cfg;
	char err[HSM_ERR_MAX], pin[HSM_PIN_MAX + 1];
	CK_C_GetFunctionList get;
	CK_SLOT_ID slots[16];
	CK_ULONG ns = N(slots), found = 0;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE q[] = { { CKA_CLASS, &cls, sizeof(cls) },
	    { CKA_LABEL, (void *)"subca", 5 } };
	void *dl;
	CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
	CK_RV rv;

	if (config_load(&cfg, home, err) != 0)
		die(err, 0);
	if (cfg.hsm_softhsm_conf[0] != '\0')
		setenv("SOFTHSM2_CONF", cfg.hsm_softhsm_conf, 1);
	if (pin_read(&cfg, NULL, pin, err) != 0)
		die(err, 0);
	if ((dl = dlopen(cfg.hsm_module, RTLD_NOW)) == NULL)
		die("dlopen", 0);
	*(void **)(&get) = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK ||
	    (rv = f->C_Initialize(&init)) != CKR_OK)
		die("C_Initialize", 0);
	/* The demo store holds one initialised token. */
	if ((rv = f->C_GetSlotList(CK_TRUE, slots, &ns)) != CKR_OK || ns < 1)
		die("C_GetSlotList", rv);
	slot = slots[0];
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s)) != CKR_OK ||
	    (rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin,
	    strlen(pin))) != CKR_OK)
		die("C_Login", rv);
	memset(pin, 0, sizeof(pin));
	if ((rv = f->C_FindObjectsInit(s, q, N(q))) != CKR_OK ||
	    (rv = f->C_FindObjects(s, &ca_key, 1, &found)) != CKR_OK ||
	    found != 1)
		die("find the sub-CA key", rv);
	f->C_FindObjectsFinal(s);
	/* Any point on the curve will do as the recipient. */
	{
		CK_BBOOL no = CK_FALSE;
		CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
		CK_ATTRIBUTE pub_t[] = { { CKA_TOKEN, &no, 1 },
		    { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
		CK_ATTRIBUTE priv_t[] = { { CKA_TOKEN, &no, 1 } };
		uint8_t der[80];
		CK_ATTRIBUTE pt = { CKA_EC_POINT, der, sizeof(der) };
		CK_OBJECT_HANDLE p, k;

		if ((rv = f->C_GenerateKeyPair(s, &gen, pub_t, N(pub_t), priv_t,
		    N(priv_t), &p, &k)) != CKR_OK ||
		    (rv = f->C_GetAttributeValue(s, p, &pt, 1)) != CKR_OK)
			die("recipient", rv);
		memcpy(recipient, der + 2, 65);
	}
	/* The login session stays open: the login belongs to the app. */
}

int
main(int argc, char *argv[])
{
	struct worker w[8];
	pthread_t t[8];
	struct rusage ru;

	if (argc != 5) {
		fprintf(stderr, "usage: batch-bare HOME rate SECONDS THREADS | "
		    "HOME mem N PER_SESSION\n");
		return 2;
	}
	setup(argv[1]);
	if (strcmp(argv[2], "mem") == 0) {
		w[0] = (struct worker){ 0, atol(argv[3]), atol(argv[4]), 0 };
		work(&w[0]);
		getrusage(RUSAGE_SELF, &ru);
		printf("%ld\n", ru.ru_maxrss);
		return 0;
	}
	int threads = atoi(argv[4]);
	double secs = atof(argv[3]), t0 = now_s();
	long total = 0;

	if (threads < 1 || threads > 8)
		return 2;
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ t0 + secs, 0, 64, 0 };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += w[i].done;
	}
	printf("%.0f\n", (double)total / (now_s() - t0));
	return 0;
}
