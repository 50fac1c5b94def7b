using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    // sendfile.SendAsync: a file range written through this stream.
    internal sealed partial class ResponseBodyStream
    {
        /// <summary>
        /// sendfile.SendAsync: the file's bytes go through this stream (flushed first,
        /// so they follow what was written before). The engine cannot yet send from the
        /// file itself; the bytes pass through the host once.
        /// </summary>
        public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
        {
            if (path == null)
            {
                throw new ArgumentNullException("path");
            }
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                long length = file.Length;
                if (offset < 0 || offset > length)
                {
                    throw new ArgumentOutOfRangeException("offset", offset, "outside the file of " + length + " bytes");
                }
                long remaining = count.HasValue ? count.Value : length - offset;
                if (remaining < 0 || remaining > length - offset)
                {
                    throw new ArgumentOutOfRangeException("count", count, "beyond the end of the " + length + "-byte file from offset " + offset);
                }
                file.Position = offset;
                var chunk = new byte[(int)Math.Min(64 * 1024, Math.Max(remaining, 1))];
                while (remaining > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = await file.ReadAsync(chunk, 0, (int)Math.Min(chunk.Length, remaining), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException("the file " + path + " ended " + remaining + " bytes early (it shrank)");
                    }
                    await WriteAsync(chunk, 0, n, cancellationToken).ConfigureAwait(false);
                    remaining -= n;
                }
            }
        }
    }
}
