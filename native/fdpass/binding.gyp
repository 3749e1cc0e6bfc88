# Builds fdpass.node (N-API, C only): recvmsg()/SCM_RIGHTS reading of the daemon's Unix-socket
# connections so clamd's FILDES command works. Built by scripts/build-native.mjs; optional.
{
  "targets": [
    {
      "target_name": "fdpass",
      "sources": ["fdpass.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "GCC_C_LANGUAGE_STANDARD": "gnu11" }
    }
  ]
}
