using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    /// <summary>
    /// owin.RequestBody: the bytes in the request view, then the pieces the engine
    /// streams. The first read of a request that sent "Expect: 100-continue" asks
    /// the engine for the body, which sends "100 Continue" then (§3.4). A client
    /// that goes away mid-body fails the read (OperationCanceledException or
    /// IOException) and fires owin.CallCancelled. Closing the stream is harmless;
    /// reading after the response is complete throws ObjectDisposedException
    /// (the bytes went back to the engine).
    /// </summary>
    internal sealed class RequestBodyStream : Stream
    {
        private readonly OwinCall _call;
        private readonly IHttpExchange _request;
        private long _read;

        public RequestBodyStream(OwinCall call)
        {
            _call = call;
            _request = call.Request;
        }

        public override bool CanRead
        {
            get { return true; }
        }

        public override bool CanSeek
        {
            get { return false; }
        }

        public override bool CanWrite
        {
            get { return false; }
        }

        /// <summary>The Content-Length the client sent; NotSupportedException for a chunked body.</summary>
        public override long Length
        {
            get
            {
                if (_request.Chunked || _request.ContentLength < 0)
                {
                    throw new NotSupportedException("the request body arrives chunked: its length is not known");
                }
                return _request.ContentLength;
            }
        }

        public override long Position
        {
            get { return _read; }
            set { throw new NotSupportedException("the request body cannot seek"); }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            throw new NotSupportedException("the request body cannot seek");
        }

        public override void SetLength(long value)
        {
            throw new NotSupportedException("the request body is read-only");
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            throw new NotSupportedException("the request body is read-only");
        }

        private void Check(byte[] buffer, int offset, int count)
        {
            if (buffer == null)
            {
                throw new ArgumentNullException("buffer");
            }
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
            {
                throw new ArgumentOutOfRangeException("count", "offset " + offset + " and count " + count
                    + " do not fit a buffer of " + buffer.Length + " bytes");
            }
            if (_call.Ended)
            {
                throw new ObjectDisposedException("owin.RequestBody", "the response is complete: the request body is gone");
            }
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Check(buffer, offset, count);
            try
            {
                int n = _request.ReadBody(buffer, offset, count);
                _read += n;
                return n;
            }
            catch (Exception e)
            {
                throw Failure(e);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            try
            {
                Check(buffer, offset, count);
            }
            catch (Exception e)
            {
                var failed = new TaskCompletionSource<int>();
                failed.SetException(e);
                return failed.Task;
            }
            return ReadCoreAsync(buffer, offset, count, cancellationToken);
        }

        private async Task<int> ReadCoreAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            try
            {
                int n = await _request.ReadBodyAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
                _read += n;
                return n;
            }
            catch (Exception e)
            {
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw Failure(e);
            }
        }

        public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback callback, object state)
        {
            var source = new TaskCompletionSource<int>(state);
            ReadAsync(buffer, offset, count, CancellationToken.None).ContinueWith(t =>
            {
                if (t.IsFaulted)
                {
                    source.TrySetException(t.Exception.InnerExceptions);
                }
                else if (t.IsCanceled)
                {
                    source.TrySetCanceled();
                }
                else
                {
                    source.TrySetResult(t.Result);
                }
                if (callback != null)
                {
                    callback(source.Task);
                }
            }, TaskScheduler.Default);
            return source.Task;
        }

        public override int EndRead(IAsyncResult asyncResult)
        {
            return ((Task<int>)asyncResult).GetAwaiter().GetResult();
        }

        /// <summary>The body failed (client gone, engine gone): owin.CallCancelled fires (§6.2).</summary>
        private Exception Failure(Exception e)
        {
            _call.Cancel();
            if (e is IOException || e is OperationCanceledException)
            {
                return e;
            }
            return new IOException("the request body could not be read: " + e.Message, e);
        }

        /// <summary>Closing is harmless: the server releases the body when the response ends.</summary>
        protected override void Dispose(bool disposing)
        {
        }
    }
}
