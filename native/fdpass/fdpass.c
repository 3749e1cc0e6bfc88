/*
 * fdpass: read a connected stream socket with recvmsg() so that descriptors passed with
 * SCM_RIGHTS (clamd's FILDES command, `clamdscan --fdpass`) reach JavaScript.
 *
 * Node's sockets read with read(2), and the kernel closes a descriptor whose carrier byte was read
 * that way. So the daemon hands an accepted (never read) socket to this addon, which dup()s it and
 * from then on owns the duplicate: a uv_poll_t on the Node loop reports readiness, reads are
 * non-blocking recvmsg() with a control buffer, writes non-blocking send(). The write queue,
 * ordering and end/close logic live in TypeScript (src/daemon/clamd/fdsocket.ts); this file only
 * does syscalls, so it stays small.
 *
 * JavaScript surface (errors are negative errno values, never exceptions, except for bad arguments):
 *   open(fd, onRead, onWritable) -> handle | -errno   dup()s fd (close-on-exec, non-blocking) and
 *        starts polling for reads. onRead(buf, fds, errno): buf = fresh Buffer with the bytes read
 *        and fds = descriptors (close-on-exec) received with them; EOF: (null, [], 0); a read error:
 *        (null, [], errno). After EOF or an error, reading stops. onWritable() when writable and
 *        polling for writes was asked for.
 *   send(handle, buffer, offset) -> bytes sent | -errno (-EAGAIN when the socket buffer is full)
 *   poll(handle, wantRead, wantWrite) -> 0 | -errno   which readiness events to report
 *   shutdown(handle) -> 0 | -errno                    shutdown(SHUT_WR)
 *   close(handle) -> 0                                 idempotent; stops polling, closes the dup
 *   sendWithFd(fd, buffer, passFd) -> bytes | -errno   one non-blocking sendmsg(); passFd < 0: none
 *
 * Lifetime: the C state is freed once both the uv handle's close callback has run and the JS handle
 * object has been garbage-collected. An async cleanup hook closes open handles when the Node
 * environment (main thread or worker) is torn down.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0 /* macOS: FD_CLOEXEC is set after receipt */
#define FDPASS_SET_CLOEXEC 1
#endif

#define READ_SIZE 65536
#define MAX_FDS 16 /* descriptors accepted per read; the kernel closes any beyond */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;        /* the duplicate this handle owns */
  int events;    /* the uv_poll mask currently active */
  int closing;   /* close started: fd closed, JS references released */
  int uv_closed; /* uv close callback ran */
  int finalized; /* JS handle object collected */
  int in_js;     /* a callback into JavaScript is running */
  napi_ref on_read;
  napi_ref on_writable;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
} fdh;

static const napi_type_tag HANDLE_TAG = {0x76696769666470ULL, 0x617373686e646c31ULL};

/* One read buffer per thread (the Node main thread and each worker); the bytes are copied into a
 * fresh Buffer before JavaScript runs, so no callback can observe it being reused. */
static _Thread_local char read_buf[READ_SIZE];

/* ---- lifetime ---------------------------------------------------------------------------- */

static void maybe_free(fdh *h) {
  if (h->uv_closed && h->finalized) free(h);
}

static void on_uv_closed(uv_handle_t *uh) {
  fdh *h = (fdh *)uh->data;
  h->uv_closed = 1;
  if (h->hook != NULL) {
    napi_async_cleanup_hook_handle hook = h->hook;
    h->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  maybe_free(h);
}

/* Drops the JS callbacks and the async context; never while one of them is running. */
static void release_js(fdh *h) {
  if (h->in_js) return; /* on_poll calls again once the callback has returned */
  if (h->on_read != NULL) napi_delete_reference(h->env, h->on_read);
  if (h->on_writable != NULL) napi_delete_reference(h->env, h->on_writable);
  if (h->actx != NULL) napi_async_destroy(h->env, h->actx);
  h->on_read = h->on_writable = NULL;
  h->actx = NULL;
}

/* Stops polling, closes the descriptor and releases the JS callbacks. Safe to call repeatedly and
 * from inside a callback (the memory lives until the uv close callback). */
static void do_close(fdh *h) {
  if (h->closing) return;
  h->closing = 1;
  h->events = 0;
  uv_close((uv_handle_t *)&h->poll, on_uv_closed); /* removes the fd from epoll: before close() */
  if (h->fd >= 0) {
    close(h->fd); /* close(2) frees the fd even on EINTR; no retry */
    h->fd = -1;
  }
  release_js(h);
}

static void on_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  do_close((fdh *)arg); /* if already closing, on_uv_closed removes the hook */
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  fdh *h = (fdh *)data;
  h->finalized = 1;
  do_close(h);
  maybe_free(h);
}

/* ---- argument helpers -------------------------------------------------------------------- */

static napi_value num(napi_env env, int64_t v) {
  napi_value r = NULL;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* The handle behind a JS value made by open(), or NULL (not ours, or already garbage). */
static fdh *get_handle(napi_env env, napi_value v) {
  napi_valuetype t;
  bool ok = false;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) return NULL;
  if (napi_check_object_type_tag(env, v, &HANDLE_TAG, &ok) != napi_ok || !ok) return NULL;
  if (napi_unwrap(env, v, &p) != napi_ok) return NULL;
  return (fdh *)p;
}

static int get_int(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static int get_bytes(napi_env env, napi_value v, char **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/* ---- calling JavaScript from the loop ---------------------------------------------------- */

/* Calls a callback with async context (so microtasks run afterwards); an exception it throws
 * becomes an uncaught exception, as for any Node callback. */
static void call_js(fdh *h, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = h->env;
  napi_value fn, recv, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  h->in_js++;
  napi_status st = napi_make_callback(env, h->actx, recv, fn, argc, argv, &result);
  h->in_js--;
  if (st == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  if (h->closing) release_js(h);
}

static int set_events(fdh *h, int events);

static void on_poll(uv_poll_t *p, int status, int events) {
  fdh *h = (fdh *)p->data;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (h->closing) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  if (status < 0) {
    /* libuv stopped the handle (it reports POLLERR as UV_EBADF): fetch the socket's real error. */
    int err = 0;
    socklen_t sl = sizeof(err);
    h->events = 0;
    if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 || err == 0) err = -status;
    napi_value argv[3];
    napi_get_null(env, &argv[0]);
    napi_create_array_with_length(env, 0, &argv[1]);
    argv[2] = num(env, err);
    call_js(h, h->on_read, 3, argv);
    napi_close_handle_scope(env, scope);
    return;
  }

  if (events & UV_READABLE) {
    union {
      char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
      struct cmsghdr align;
    } ctl;
    struct iovec iov = {read_buf, READ_SIZE};
    struct msghdr msg;
    ssize_t n;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do n = recvmsg(h->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* spurious wakeup */
    } else {
      int err = n < 0 ? errno : 0;
      int fds[MAX_FDS];
      uint32_t nfds = 0;
      if (n >= 0 && msg.msg_controllen > 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
          size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (nfds == MAX_FDS) { /* cannot happen with this control buffer; never leak one */
              close(fd);
              continue;
            }
#ifdef FDPASS_SET_CLOEXEC
            fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
            fds[nfds++] = fd;
          }
        }
      }
      if (n <= 0) set_events(h, h->events & ~UV_READABLE); /* EOF or error: stop reading */
      napi_value argv[3], arr;
      int ok = napi_create_array_with_length(env, nfds, &arr) == napi_ok;
      for (uint32_t i = 0; ok && i < nfds; i++) ok = napi_set_element(env, arr, i, num(env, fds[i])) == napi_ok;
      if (n > 0) ok = ok && napi_create_buffer_copy(env, (size_t)n, read_buf, NULL, &argv[0]) == napi_ok;
      else ok = ok && napi_get_null(env, &argv[0]) == napi_ok;
      if (ok) {
        argv[1] = arr;
        argv[2] = num(env, err);
        call_js(h, h->on_read, 3, argv); /* JavaScript owns the descriptors from here */
      } else {
        for (uint32_t i = 0; i < nfds; i++) close(fds[i]);
      }
    }
  }

  if (!h->closing && (events & UV_WRITABLE) && (h->events & UV_WRITABLE)) call_js(h, h->on_writable, 0, NULL);
  napi_close_handle_scope(env, scope);
}

/* Sets the readiness events to report; 0 or a negative errno. */
static int set_events(fdh *h, int events) {
  if (h->closing) return -EBADF;
  if (events == h->events) return 0;
  int rc = events == 0 ? uv_poll_stop(&h->poll) : uv_poll_start(&h->poll, events, on_poll);
  if (rc == 0) h->events = events;
  return rc;
}

/* ---- exported functions ------------------------------------------------------------------ */

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], obj, name;
  napi_valuetype t1, t2;
  int64_t fd;
  uv_loop_t *loop;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || !get_int(env, argv[0], &fd) || napi_typeof(env, argv[1], &t1) != napi_ok ||
      napi_typeof(env, argv[2], &t2) != napi_ok || t1 != napi_function || t2 != napi_function)
    return throw_type(env, "open(fd: number, onRead: function, onWritable: function)");
  if (fd < 0 || fd > INT32_MAX) return num(env, -EBADF);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return num(env, -EINVAL);

  int dup_fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return num(env, -errno);
  int fl = fcntl(dup_fd, F_GETFL);
  if (fl < 0 || fcntl(dup_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int e = errno;
    close(dup_fd);
    return num(env, -e);
  }
#ifdef SO_NOSIGPIPE
  {
    int one = 1;
    setsockopt(dup_fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
  }
#endif
  fdh *h = (fdh *)calloc(1, sizeof(fdh));
  if (h == NULL) {
    close(dup_fd);
    return num(env, -ENOMEM);
  }
  h->env = env;
  h->fd = dup_fd;
  int rc = uv_poll_init(loop, &h->poll, dup_fd); /* e.g. a regular file: -EPERM */
  if (rc != 0) {
    close(dup_fd);
    free(h);
    return num(env, rc);
  }
  h->poll.data = h;
  /* From here on the uv handle exists, so every failure path goes through do_close. */
  h->finalized = 1; /* until the JS object owns h */
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_string_utf8(env, "fdpass", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, obj, name, &h->actx) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &h->on_read) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &h->on_writable) != napi_ok ||
      napi_type_tag_object(env, obj, &HANDLE_TAG) != napi_ok) {
    do_close(h);
    return NULL; /* a pending exception explains why */
  }
  if (napi_wrap(env, obj, h, on_finalize, NULL, NULL) != napi_ok) {
    do_close(h);
    return NULL;
  }
  h->finalized = 0;
  if (napi_add_async_cleanup_hook(env, on_teardown, h, &h->hook) != napi_ok) h->hook = NULL;
  rc = set_events(h, UV_READABLE);
  if (rc != 0) {
    do_close(h);
    return num(env, rc);
  }
  return obj;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char *data;
  size_t len;
  int64_t off;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || !get_bytes(env, argv[1], &data, &len) || !get_int(env, argv[2], &off))
    return throw_type(env, "send(handle, buffer: Buffer, offset: number)");
  fdh *h = get_handle(env, argv[0]);
  if (h == NULL || h->closing) return num(env, -EBADF);
  if (off < 0 || (uint64_t)off > len) return num(env, -EINVAL);
  ssize_t n;
  do n = send(h->fd, data + off, len - (size_t)off, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return num(env, n < 0 ? -errno : n);
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool r = false, w = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || napi_get_value_bool(env, argv[1], &r) != napi_ok || napi_get_value_bool(env, argv[2], &w) != napi_ok)
    return throw_type(env, "poll(handle, wantRead: boolean, wantWrite: boolean)");
  fdh *h = get_handle(env, argv[0]);
  if (h == NULL || h->closing) return num(env, -EBADF);
  return num(env, set_events(h, (r ? UV_READABLE : 0) | (w ? UV_WRITABLE : 0)));
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  fdh *h = argc < 1 ? NULL : get_handle(env, argv[0]);
  if (h == NULL || h->closing) return num(env, -EBADF);
  return num(env, shutdown(h->fd, SHUT_WR) == 0 ? 0 : -errno);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  fdh *h = argc < 1 ? NULL : get_handle(env, argv[0]);
  if (h != NULL) do_close(h);
  return num(env, 0);
}

static napi_value js_send_with_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t fd, pass;
  char *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len) || !get_int(env, argv[2], &pass))
    return throw_type(env, "sendWithFd(fd: number, buffer: Buffer, passFd: number)");
  if (fd < 0 || fd > INT32_MAX || pass > INT32_MAX) return num(env, -EBADF);
  if (len == 0) return num(env, -EINVAL); /* a descriptor needs at least one carrier byte */
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  memset(&ctl, 0, sizeof(ctl));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pass >= 0) {
    int p = (int)pass;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p, sizeof(int));
  }
  ssize_t n;
  do n = sendmsg((int)fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return num(env, n < 0 ? -errno : n);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendWithFd", NULL, js_send_with_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
