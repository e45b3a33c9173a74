/* tr_slot_get: a __slots__ attribute read at its offset. Shared by protocol._native and
 * game_server._native (each extension compiles its own copy: the function is static). */
#ifndef TICKROOM_NATIVE_SLOT_H
#define TICKROOM_NATIVE_SLOT_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Where one __slots__ attribute of one class lives: a cache for tr_slot_get (zero it). */
typedef struct {
    PyTypeObject *type;
    unsigned int version;
    Py_ssize_t offset;
} tr_slot;

/* getattr(obj, name), a new reference. When `name` is a __slots__ member of obj's class (and
 * the class neither overrides attribute lookup nor changed since), the value is read straight
 * from the slot: the class and offset are kept in *cache. Anything else is a getattr. */
static inline PyObject *
tr_slot_get(PyObject *obj, PyObject *name, tr_slot *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject *value;
    if (type != cache->type || type->tp_version_tag != cache->version ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *descr;
        if (type->tp_getattro != PyObject_GenericGetAttr) {
            return PyObject_GetAttr(obj, name);
        }
        descr = _PyType_Lookup(type, name); /* borrowed; tags the class with a version */
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX ||
            !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
            return PyObject_GetAttr(obj, name);
        }
        Py_XSETREF(cache->type, (PyTypeObject *)Py_NewRef(type));
        cache->version = type->tp_version_tag;
        cache->offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    value = *(PyObject **)((char *)obj + cache->offset);
    return value != NULL ? Py_NewRef(value) : PyObject_GetAttr(obj, name); /* unset: raises */
}

/* setattr(obj, name, value): 0, or -1 with an exception set. Written straight into the slot
 * when `name` is a writable __slots__ member of obj's class (cached as for tr_slot_get). */
static inline int
tr_slot_set(PyObject *obj, PyObject *name, PyObject *value, tr_slot *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject **slot;
    if (type != cache->type || type->tp_version_tag != cache->version ||
        !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
        PyObject *descr;
        if (type->tp_setattro != PyObject_GenericSetAttr) {
            return PyObject_SetAttr(obj, name, value);
        }
        descr = _PyType_Lookup(type, name);
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX ||
            (((PyMemberDescrObject *)descr)->d_member->flags & READONLY) ||
            !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
            return PyObject_SetAttr(obj, name, value);
        }
        Py_XSETREF(cache->type, (PyTypeObject *)Py_NewRef(type));
        cache->version = type->tp_version_tag;
        cache->offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    slot = (PyObject **)((char *)obj + cache->offset);
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

#endif
