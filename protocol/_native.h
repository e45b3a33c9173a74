/* What protocol/_native.c (the tracked map's write) and protocol/_native_delta.c (the delta
 * renderer) share: one extension module, protocol._native. */
#ifndef TICKROOM_NATIVE_H
#define TICKROOM_NATIVE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_native_slot.h"

/* Python's round(x) for a finite double: to nearest, ties to even, never -0.0. */
double tr_round_half_even(double x);

/* float(getattr(obj, name)) into *out: 0, or -1 with an exception set. */
int tr_attr_double(PyObject *obj, PyObject *name, double *out);


/* The delta renderer's module functions (protocol/_native_delta.c). */
PyObject *tr_configure_delta(PyObject *module, PyObject *args);
PyObject *tr_map_delta(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
int tr_delta_init(void);

/* _ListDirty, from configure() (protocol/_native.c). */
extern PyObject *tr_list_dirty_type;

/* The msgpack writer for deltas and change trees (protocol/_native_pack.c). */
PyObject *tr_pack(PyObject *module, PyObject *value);
PyObject *tr_pack_changes(PyObject *module, PyObject *tree);

/* The INPUT decoder's module functions (protocol/_native_input.c). */
PyObject *tr_configure_input(PyObject *module, PyObject *args);
PyObject *tr_decode_input(PyObject *module, PyObject *data);

#endif
