/* protocol._native's pack(value) and pack_changes(tree): the msgpack bytes protocol.diff's
 * Packers write, in C, for the two things the server packs every room tick: a PATCH body
 * (StateTracker.encode_delta, once per baseline) and a published tick's change tree
 * (StateTracker.compact).
 *
 * Both take exact dicts, lists, strs, bytes, ints within 64 bits, floats, True, False, None,
 * nested up to 512 deep; pack_changes also a change tree's list nodes (_ListDirty, packed as
 * [tail, items], as the tree Packer's default makes them). Each writes what msgpack's
 * Packer(use_bin_type=True) writes for them, byte for byte: the smallest int form, float64,
 * str8 and bin for bytes, a dict's items in its order. For anything else (a subclass, a
 * tuple, a Float32Value, an int past 64 bits, deeper nesting) it returns None, and the caller
 * packs the value with its Packer, which then does what it does.
 */
#include "_native.h"

typedef struct {
    char *data;
    Py_ssize_t size, capacity;
} buffer;

static PyObject *s_items_name, *s_tail_name;
static tr_slot items_slot, tail_slot; /* _ListDirty's slots */
static int nodes_allowed; /* pack_changes: a change tree's list nodes are packed too */
static int depth;         /* containers open: past MAX_DEPTH the Packer decides (its limit) */
#define MAX_DEPTH 512
#define KEPT_CAPACITY (64 * 1024) /* a bigger buffer is freed after the call */

/* 0, or -1 with MemoryError set. */
static int
reserve(buffer *out, Py_ssize_t more)
{
    Py_ssize_t need = out->size + more, capacity;
    char *grown;
    if (need <= out->capacity) {
        return 0;
    }
    capacity = out->capacity ? out->capacity : 1024;
    while (capacity < need) {
        capacity *= 2;
    }
    grown = PyMem_Realloc(out->data, (size_t)capacity);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = grown;
    out->capacity = capacity;
    return 0;
}

static void
put_byte(buffer *out, unsigned char byte)
{
    out->data[out->size++] = (char)byte;
}

static void
put_be(buffer *out, unsigned long long value, int bytes)
{
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
        put_byte(out, (unsigned char)(value >> shift));
    }
}

/* msgpack's pack of a long long: the form msgpack-python's packer picks. */
static int
pack_integer(buffer *out, long long d)
{
    if (reserve(out, 9) < 0) {
        return -1;
    }
    if (d < -(1LL << 5)) {
        if (d < -(1LL << 15)) {
            if (d < -(1LL << 31)) {
                put_byte(out, 0xd3);
                put_be(out, (unsigned long long)d, 8);
            }
            else {
                put_byte(out, 0xd2);
                put_be(out, (unsigned long long)d, 4);
            }
        }
        else if (d < -(1 << 7)) {
            put_byte(out, 0xd1);
            put_be(out, (unsigned long long)d, 2);
        }
        else {
            put_byte(out, 0xd0);
            put_be(out, (unsigned long long)d, 1);
        }
    }
    else if (d < (1 << 7)) {
        put_byte(out, (unsigned char)d); /* positive or negative fixint */
    }
    else if (d < (1 << 16)) {
        if (d < (1 << 8)) {
            put_byte(out, 0xcc);
            put_be(out, (unsigned long long)d, 1);
        }
        else {
            put_byte(out, 0xcd);
            put_be(out, (unsigned long long)d, 2);
        }
    }
    else if (d < (1LL << 32)) {
        put_byte(out, 0xce);
        put_be(out, (unsigned long long)d, 4);
    }
    else {
        put_byte(out, 0xcf);
        put_be(out, (unsigned long long)d, 8);
    }
    return 0;
}

/* 1 written, 0 not a value this writer takes (the caller falls back), -1 error. */
static int pack_value(buffer *out, PyObject *value);

static int
pack_header(buffer *out, Py_ssize_t length, unsigned char fix, unsigned char b16,
            unsigned char b32, Py_ssize_t fix_max)
{
    if (reserve(out, 5) < 0) {
        return -1;
    }
    if (length <= fix_max) {
        put_byte(out, (unsigned char)(fix | length));
    }
    else if (length <= 0xffff) {
        put_byte(out, b16);
        put_be(out, (unsigned long long)length, 2);
    }
    else if ((unsigned long long)length <= 0xffffffffULL) {
        put_byte(out, b32);
        put_be(out, (unsigned long long)length, 4);
    }
    else {
        return 0;
    }
    return 1;
}

/* A str or bin: its header (`fix` for up to 31 bytes when nonzero, else the 8-, 16- or 32-bit
 * length form `tag8`, `tag8 + 1`, `tag8 + 2`), then its bytes. 1, 0 past 32 bits, -1. */
static int
pack_raw(buffer *out, const char *bytes, Py_ssize_t length, unsigned char fix,
         unsigned char tag8)
{
    if (reserve(out, 5 + length) < 0) {
        return -1;
    }
    if (fix && length <= 31) {
        put_byte(out, (unsigned char)(fix | length));
    }
    else if (length <= 0xff) {
        put_byte(out, tag8);
        put_be(out, (unsigned long long)length, 1);
    }
    else if (length <= 0xffff) {
        put_byte(out, tag8 + 1);
        put_be(out, (unsigned long long)length, 2);
    }
    else if ((unsigned long long)length <= 0xffffffffULL) {
        put_byte(out, tag8 + 2);
        put_be(out, (unsigned long long)length, 4);
    }
    else {
        return 0;
    }
    memcpy(out->data + out->size, bytes, (size_t)length);
    out->size += length;
    return 1;
}

static int
pack_str(buffer *out, PyObject *text)
{
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (utf8 == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return -1;
        }
        PyErr_Clear(); /* a lone surrogate: the Packer raises its own error for it */
        return 0;
    }
    return pack_raw(out, utf8, length, 0xa0, 0xd9); /* fixstr, str8/16/32 */
}

static int
pack_map(buffer *out, PyObject *map)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int done = pack_header(out, PyDict_GET_SIZE(map), 0x80, 0xde, 0xdf, 15);
    while (done > 0 && PyDict_Next(map, &pos, &key, &value)) {
        done = pack_value(out, key);
        if (done > 0) {
            done = pack_value(out, value);
        }
    }
    return done;
}

/* A list's items (nothing here runs Python code, so the list cannot change meanwhile). */
static int
pack_list(buffer *out, PyObject *list)
{
    Py_ssize_t length = PyList_GET_SIZE(list), i;
    int done = pack_header(out, length, 0x90, 0xdc, 0xdd, 15);
    for (i = 0; done > 0 && i < length; i++) {
        done = pack_value(out, PyList_GET_ITEM(list, i));
    }
    return done;
}

static int
pack_value(buffer *out, PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (value == Py_True || value == Py_False || value == Py_None) {
        if (reserve(out, 1) < 0) {
            return -1;
        }
        put_byte(out, value == Py_True ? 0xc3 : value == Py_False ? 0xc2 : 0xc0);
        return 1;
    }
    if (type == &PyFloat_Type) {
        union {
            double number;
            unsigned long long bits;
        } cast;
        if (reserve(out, 9) < 0) {
            return -1;
        }
        cast.number = PyFloat_AS_DOUBLE(value);
        put_byte(out, 0xcb);
        put_be(out, cast.bits, 8);
        return 1;
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (number == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow) {
            return 0; /* past 64 bits: the Packer decides */
        }
        return pack_integer(out, number) < 0 ? -1 : 1;
    }
    if (type == &PyUnicode_Type) {
        return pack_str(out, value);
    }
    if (type == &PyBytes_Type) { /* bin8/16/32: use_bin_type has no fixed form for bytes */
        return pack_raw(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), 0, 0xc4);
    }
    if (type == &PyDict_Type || type == &PyList_Type) {
        int done;
        if (depth >= MAX_DEPTH) {
            return 0;
        }
        depth++;
        done = type == &PyDict_Type ? pack_map(out, value) : pack_list(out, value);
        depth--;
        return done;
    }
    if (nodes_allowed && (PyObject *)type == tr_list_dirty_type) { /* [tail, items] */
        PyObject *tail, *items;
        int done = -1;
        if (reserve(out, 1) < 0) {
            return -1;
        }
        put_byte(out, 0x92);
        tail = tr_slot_get(value, s_tail_name, &tail_slot);
        items = tail == NULL ? NULL : tr_slot_get(value, s_items_name, &items_slot);
        if (items != NULL) {
            done = pack_value(out, tail);
            if (done > 0) {
                done = PyDict_CheckExact(items) ? pack_value(out, items) : 0;
            }
        }
        Py_XDECREF(tail);
        Py_XDECREF(items);
        return done;
    }
    return 0;
}

static PyObject *
pack_with(PyObject *value, int nodes)
{
    static buffer out; /* kept between calls: the GIL guards it */
    PyObject *result;
    int done;
    if (tr_list_dirty_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "protocol._native is not configured");
        return NULL;
    }
    if (s_items_name == NULL) {
        s_items_name = PyUnicode_InternFromString("items");
        s_tail_name = PyUnicode_InternFromString("tail");
        if (s_items_name == NULL || s_tail_name == NULL) {
            return NULL;
        }
    }
    out.size = 0;
    depth = 0;
    nodes_allowed = nodes;
    done = pack_value(&out, value);
    result = done < 0 ? NULL : done == 0 ? Py_NewRef(Py_None)
                                          : PyBytes_FromStringAndSize(out.data, out.size);
    if (out.capacity > KEPT_CAPACITY) { /* a big full state: do not keep its buffer */
        PyMem_Free(out.data);
        out.data = NULL;
        out.capacity = 0;
    }
    return result;
}

PyObject *
tr_pack(PyObject *module, PyObject *value)
{
    return pack_with(value, 0);
}

PyObject *
tr_pack_changes(PyObject *module, PyObject *tree)
{
    return pack_with(tree, 1);
}
