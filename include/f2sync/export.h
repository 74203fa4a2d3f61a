/* f2sync: symbol visibility. The library is built with -fvisibility=hidden;
 * only declarations marked F2_API are exported from libf2sync.so. */
#ifndef F2SYNC_EXPORT_H
#define F2SYNC_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define F2_API __attribute__((visibility("default")))
#else
#define F2_API
#endif

#ifdef __cplusplus
#define F2_EXTERN_C_BEGIN extern "C" {
#define F2_EXTERN_C_END }
#else
#define F2_EXTERN_C_BEGIN
#define F2_EXTERN_C_END
#endif

#endif
