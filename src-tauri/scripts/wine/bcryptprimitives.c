/* Wine 8.0 (Debian 12) has no bcryptprimitives.dll, whose ProcessPrng the Rust std of 1.78+ calls
 * for random bytes on Windows. This stand-in exists only for the tests under Wine: it answers
 * ProcessPrng from RtlGenRandom (advapi32's SystemFunction036), which Wine does implement.
 * Never shipped: real Windows 10 and 11 have the DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
