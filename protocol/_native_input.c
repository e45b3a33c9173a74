/* protocol.codec.decode_input in C, for protocol._native: one INPUT frame, type byte then the
 * msgpack array [seq, payload], decoded straight into Python objects with the checks of
 * Input (check_uint on seq, check_plain on payload) made on the way.
 *
 * It takes the common encodings only: fixarray [seq, payload] with nil, booleans, every int
 * and float, str up to 64 KiB, and arrays and maps up to 65535 entries keyed by str or int.
 * Anything else (bin, ext, str32, map32, array32, a malformed or trailing byte, a check that
 * fails) hands the same bytes to codec.py's Python decode_input, which stays the definition:
 * so both give the same answer for every input (tests/protocol/test_native.py checks).
 */
#include "_native.h"
#include <string.h>

#define MAX_SAFE_INT 9007199254740991LL

static PyObject *py_decode_input; /* codec.py's decode_input: the definition and the fallback */
static int input_type = -1;       /* MessageType.INPUT */
static int max_depth = 32;        /* MAX_PAYLOAD_DEPTH */

typedef struct {
    const unsigned char *p, *end;
} Reader;

/* The next `n` bytes, or NULL when the data ends first. */
static const unsigned char *
take(Reader *r, Py_ssize_t n)
{
    const unsigned char *at = r->p;
    if (r->end - r->p < n) {
        return NULL;
    }
    r->p += n;
    return at;
}

static unsigned long long
big_endian(const unsigned char *at, int n)
{
    unsigned long long value = 0;
    int i;
    for (i = 0; i < n; i++) {
        value = (value << 8) | at[i];
    }
    return value;
}

/* The next value as a Python object (new reference), or NULL -- with or without an exception
 * set -- when this decoder does not take it; the caller then asks the Python decoder. */
static PyObject *read_value(Reader *r, int depth);

static PyObject *
read_str(Reader *r, Py_ssize_t length)
{
    const unsigned char *at = take(r, length);
    if (at == NULL) {
        return NULL;
    }
    return PyUnicode_DecodeUTF8((const char *)at, length, "strict");
}

static PyObject *
read_array(Reader *r, Py_ssize_t count, int depth)
{
    PyObject *list;
    Py_ssize_t i;
    if (depth >= max_depth || count > r->end - r->p) { /* too deep; or bytes short: */
        return NULL;                                      /* each item takes one at least */
    }
    list = PyList_New(count);
    if (list == NULL) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        PyObject *item = read_value(r, depth + 1);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* Map keys: a game's inputs carry the same few short keys ({"dx": .., "dy": ..}) in every
 * frame. A small direct-mapped cache of interned strs, by their UTF-8 bytes, gives each one
 * back without decoding and allocating it again (and an interned key is found in a dict by
 * identity, without comparing its bytes). Bounded: a key longer than KEY_BYTES, or one that
 * evicts another, is only decoded. */
#define KEY_SLOTS 64
#define KEY_BYTES 16
static struct {
    Py_ssize_t length;
    unsigned char bytes[KEY_BYTES];
    PyObject *str;
} key_cache[KEY_SLOTS];

static PyObject *
read_key(Reader *r, int depth)
{
    const unsigned char *at;
    Py_ssize_t length;
    unsigned int hash = 2166136261u; /* FNV-1a */
    PyObject *key;
    if (r->p >= r->end || (*r->p & 0xe0) != 0xa0 || (*r->p & 0x1f) > KEY_BYTES) {
        return read_value(r, depth); /* not a short fixstr: as any value */
    }
    length = *r->p & 0x1f;
    if (r->end - r->p - 1 < length) {
        return NULL;
    }
    at = r->p + 1;
    for (Py_ssize_t i = 0; i < length; i++) {
        hash = (hash ^ at[i]) * 16777619u;
    }
    hash = (hash ^ (hash >> 16)) % KEY_SLOTS;
    if (key_cache[hash].str != NULL && key_cache[hash].length == length &&
        memcmp(key_cache[hash].bytes, at, (size_t)length) == 0) {
        r->p = at + length;
        return Py_NewRef(key_cache[hash].str);
    }
    r->p = at;
    key = read_str(r, length);
    if (key == NULL) {
        return NULL;
    }
    PyUnicode_InternInPlace(&key);
    Py_XSETREF(key_cache[hash].str, Py_NewRef(key));
    key_cache[hash].length = length;
    memcpy(key_cache[hash].bytes, at, (size_t)length);
    return key;
}

static PyObject *
read_map(Reader *r, Py_ssize_t count, int depth)
{
    PyObject *map;
    Py_ssize_t i;
    if (depth >= max_depth || count > (r->end - r->p) / 2) { /* a key and a value each */
        return NULL;
    }
    map = PyDict_New();
    if (map == NULL) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        PyObject *key = read_key(r, depth + 1), *value;
        if (key == NULL) {
            Py_DECREF(map);
            return NULL;
        }
        if (!PyUnicode_CheckExact(key) && !PyLong_CheckExact(key)) { /* check_plain's keys */
            Py_DECREF(key);
            Py_DECREF(map);
            return NULL;
        }
        value = read_value(r, depth + 1);
        if (value == NULL || PyDict_SetItem(map, key, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(key);
            Py_DECREF(map);
            return NULL;
        }
        Py_DECREF(value);
        Py_DECREF(key);
    }
    return map;
}

static PyObject *
read_value(Reader *r, int depth)
{
    const unsigned char *at = take(r, 1);
    unsigned char head;
    if (at == NULL) {
        return NULL;
    }
    head = *at;
    if (head <= 0x7f) {
        return PyLong_FromLong(head);
    }
    if (head >= 0xe0) {
        return PyLong_FromLong((long)(signed char)head);
    }
    if (head >= 0xa0 && head <= 0xbf) {
        return read_str(r, head & 0x1f);
    }
    if (head >= 0x90 && head <= 0x9f) {
        return read_array(r, head & 0x0f, depth);
    }
    if (head >= 0x80 && head <= 0x8f) {
        return read_map(r, head & 0x0f, depth);
    }
    switch (head) {
    case 0xc0:
        Py_RETURN_NONE;
    case 0xc2:
        Py_RETURN_FALSE;
    case 0xc3:
        Py_RETURN_TRUE;
    case 0xca: {
        float value;
        uint32_t bits;
        if ((at = take(r, 4)) == NULL) {
            return NULL;
        }
        bits = (uint32_t)big_endian(at, 4);
        memcpy(&value, &bits, 4);
        return PyFloat_FromDouble((double)value);
    }
    case 0xcb: {
        double value;
        uint64_t bits;
        if ((at = take(r, 8)) == NULL) {
            return NULL;
        }
        bits = (uint64_t)big_endian(at, 8);
        memcpy(&value, &bits, 8);
        return PyFloat_FromDouble(value);
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        int size = 1 << (head - 0xcc);
        if ((at = take(r, size)) == NULL) {
            return NULL;
        }
        return PyLong_FromUnsignedLongLong(big_endian(at, size));
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int size = 1 << (head - 0xd0);
        unsigned long long raw;
        long long value;
        if ((at = take(r, size)) == NULL) {
            return NULL;
        }
        raw = big_endian(at, size);
        if (size < 8 && (raw >> (size * 8 - 1)) & 1) { /* sign-extend */
            raw |= ~0ULL << (size * 8);
        }
        memcpy(&value, &raw, 8);
        return PyLong_FromLongLong(value);
    }
    case 0xd9:
    case 0xda: {
        int size = head == 0xd9 ? 1 : 2;
        if ((at = take(r, size)) == NULL) {
            return NULL;
        }
        return read_str(r, (Py_ssize_t)big_endian(at, size));
    }
    case 0xdc:
    case 0xde:
        if ((at = take(r, 2)) == NULL) {
            return NULL;
        }
        return head == 0xdc ? read_array(r, (Py_ssize_t)big_endian(at, 2), depth)
                            : read_map(r, (Py_ssize_t)big_endian(at, 2), depth);
    default: /* bin, ext, str32, array32, map32, and 0xc1, which msgpack never uses */
        return NULL;
    }
}

static PyObject *
fallback(PyObject *data)
{
    PyErr_Clear();
    return PyObject_CallOneArg(py_decode_input, data);
}

PyObject *
tr_decode_input(PyObject *module, PyObject *data)
{
    Reader reader;
    PyObject *seq, *payload, *result;
    long long number;
    int overflow;
    if (py_decode_input == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "protocol._native's decode_input is not configured");
        return NULL;
    }
    if (!PyBytes_CheckExact(data)) {
        return fallback(data);
    }
    if (PyBytes_GET_SIZE(data) < 2 || (unsigned char)PyBytes_AS_STRING(data)[0] != input_type) {
        Py_RETURN_NONE;
    }
    reader.p = (const unsigned char *)PyBytes_AS_STRING(data) + 1;
    reader.end = (const unsigned char *)PyBytes_AS_STRING(data) + PyBytes_GET_SIZE(data);
    if (*reader.p++ != 0x92) { /* fixarray of two: [seq, payload] */
        return fallback(data);
    }
    seq = read_value(&reader, 0);
    if (seq == NULL) {
        return fallback(data);
    }
    number = PyLong_CheckExact(seq) ? PyLong_AsLongLongAndOverflow(seq, &overflow) : -1;
    if (!PyLong_CheckExact(seq) || overflow || number < 0 || number > MAX_SAFE_INT) {
        Py_DECREF(seq); /* check_uint fails: let the definition say so */
        return fallback(data);
    }
    payload = read_value(&reader, 0);
    if (payload == NULL || reader.p != reader.end) {
        Py_XDECREF(payload);
        Py_DECREF(seq);
        return fallback(data);
    }
    result = PyTuple_Pack(2, seq, payload);
    Py_DECREF(seq);
    Py_DECREF(payload);
    return result;
}

PyObject *
tr_configure_input(PyObject *module, PyObject *args)
{
    PyObject *decode;
    int type_code, depth;
    if (!PyArg_ParseTuple(args, "Oii:configure_input", &decode, &type_code, &depth)) {
        return NULL;
    }
    Py_XSETREF(py_decode_input, Py_NewRef(decode));
    input_type = type_code;
    max_depth = depth;
    Py_RETURN_NONE;
}
