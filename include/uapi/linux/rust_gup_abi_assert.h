/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_gup: compile-time checks of the uapi headers' layouts, in C11 and
 * C++11 and later (older compilers skip them).
 */
#ifndef _UAPI_LINUX_RUST_GUP_ABI_ASSERT_H
#define _UAPI_LINUX_RUST_GUP_ABI_ASSERT_H

#if defined(__cplusplus) && __cplusplus >= 201103L
#define __RUST_GUP_ABI_ASSERT(expr) static_assert(expr, #expr)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define __RUST_GUP_ABI_ASSERT(expr) _Static_assert(expr, #expr)
#else
#define __RUST_GUP_ABI_ASSERT(expr)
#endif

#endif /* _UAPI_LINUX_RUST_GUP_ABI_ASSERT_H */
