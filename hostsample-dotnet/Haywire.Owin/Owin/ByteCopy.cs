using System;

namespace Haywire.Owin
{
    /// <summary>
    /// Byte copies through pointers. On Mono, Buffer.BlockCopy and Marshal.Copy are calls into the
    /// runtime that check the arrays' element types each time: for the few dozen bytes of a hello
    /// world's head and body they cost more than the copy (perf: ~3% of the host's CPU pipelined).
    /// Buffer.MemoryCopy is managed code for small lengths. Callers check the ranges.
    /// </summary>
    internal static unsafe class ByteCopy
    {
        /// <summary>src[srcOffset, +count) to dst[dstOffset, +count), both ranges inside their arrays.</summary>
        public static void Copy(byte[] src, int srcOffset, byte[] dst, int dstOffset, int count)
        {
            if (count <= 0)
            {
                return;
            }
            if ((uint)srcOffset > (uint)src.Length || (uint)count > (uint)(src.Length - srcOffset)
                || (uint)dstOffset > (uint)dst.Length || (uint)count > (uint)(dst.Length - dstOffset))
            {
                throw new ArgumentOutOfRangeException("count");
            }
            fixed (byte* s = src)
            fixed (byte* d = dst)
            {
                Buffer.MemoryCopy(s + srcOffset, d + dstOffset, dst.Length - dstOffset, count);
            }
        }

        /// <summary>src[srcOffset, +count) to dst, which has room for count bytes.</summary>
        public static void Copy(byte[] src, int srcOffset, byte* dst, int count)
        {
            if (count <= 0)
            {
                return;
            }
            if ((uint)srcOffset > (uint)src.Length || (uint)count > (uint)(src.Length - srcOffset))
            {
                throw new ArgumentOutOfRangeException("count");
            }
            fixed (byte* s = src)
            {
                Buffer.MemoryCopy(s + srcOffset, dst, count, count);
            }
        }
    }
}
