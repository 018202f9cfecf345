/* The records of a JSON lines page counted without the interpreter lock.
 *
 * Backends pass a service's own JSON lines through to the rendered file (nothing decoded
 * or encoded); what they must know of a page is how many records it holds, and that it
 * is one record per line. In Python that takes two scans of the page holding the lock
 * (`bytes.count` and a search for a blank line, about 0.6 ms a MiB), which is most of
 * the lock a render of a big file holds, so renders in several threads queue on it. Here
 * one scan of a pinned buffer runs between Py_BEGIN/END_ALLOW_THREADS.
 *
 * `count(buffer)` returns the number of newlines when every line of the buffer starts
 * with `{` or `[` and ends with a newline (the last line too), 0 for an empty buffer, and
 * -1 otherwise (a blank line, a line of something else, no final newline), for which the
 * caller takes its slow, checked way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static Py_ssize_t count_records(const char *data, Py_ssize_t size)
{
    const char *at = data, *end = data + size;
    Py_ssize_t lines = 0;
    if (size == 0)
        return 0;
    if (data[size - 1] != '\n')
        return -1;
    while (at < end) {
        if (*at != '{' && *at != '[')
            return -1;
        const char *newline = memchr(at, '\n', (size_t)(end - at));
        lines++;
        at = newline + 1;  /* never NULL: the buffer ends with a newline */
    }
    return lines;
}

static PyObject *py_count(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    Py_ssize_t lines;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    lines = count_records(view.buf, view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(lines);
}

static PyMethodDef methods[] = {
    {"count", py_count, METH_O,
     "count(buffer) -> records of a JSON lines page, one per line, or -1 if it is not one."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_line_count",
    "The records of a JSON lines page counted without the interpreter lock.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__line_count(void)
{
    return PyModule_Create(&module_def);
}
