using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

using Haywire.Owin.Transport;

namespace Haywire.Owin
{
    /// <summary>
    /// owin.ResponseBody. The head is fixed at the first write or flush (§3.5): the
    /// OnSendingHeaders callbacks run (last registered first), then status, reason
    /// and headers are taken and the header dictionary turns read-only. Bytes are
    /// buffered up to <see cref="BufferLimit"/>; a response that completes within it
    /// goes to the engine whole, with a computed Content-Length (0 when empty);
    /// a longer one, or one the application flushes, streams — chunked, or with
    /// the Content-Length the application set, which must then be met exactly.
    /// A HEAD response's bytes are counted, never sent. A head the application got
    /// wrong (status, Content-Length, reason phrase) becomes a 500; a response that
    /// fails is a 500 while nothing of it went out, an abort after (see GiveUp).
    /// Closing or disposing the stream does nothing: the server ends the response
    /// when the application's Task completes (§3.5).
    /// Not thread-safe: one write at a time, as OWIN lets a server assume.
    /// </summary>
    internal sealed partial class ResponseBodyStream : Stream
    {
        /// <summary>Bytes held before the response starts streaming.</summary>
        public const int BufferLimit = 16 * 1024;

        private const int FirstBufferSize = 512;
        private const string HeadersSentMessage = "the response headers were sent at the first write to the response body";
        private static readonly byte[] NoBytes = new byte[0];
        private static readonly List<KeyValuePair<string, string>> NoHeaders = new List<KeyValuePair<string, string>>(0);

        // A whole response goes to the engine's arena synchronously (Respond copies it): its buffer and header
        // list are then free for the next request on the same thread (the pump answers request after request).
        [ThreadStatic] private static byte[] _spareBuffer;
        [ThreadStatic] private static List<KeyValuePair<string, string>> _spareHeaders;

        private readonly OwinCall _call;
        private readonly IHttpExchange _request;
        private byte[] _buffer;
        private int _buffered;
        private long _written; // bytes the application wrote, in total

        // OnSendingHeaders registrations: the first inline (most pipelines register one, if any), the rest in a list.
        private Action<object> _firstOnSending;
        private object _firstOnSendingState;
        private List<KeyValuePair<Action<object>, object>> _moreOnSending;
        private bool _runningCallbacks;
        private bool _headFixed;
        private bool _started; // StartResponse went to the engine: streaming
        private bool _done; // the response is complete or given up
        private bool _discardBody; // the head was invalid: 500 goes out instead
        private readonly bool _head; // a HEAD request: body bytes are counted, not sent
        private int _status;
        private string _reason;
        private List<KeyValuePair<string, string>> _headers;
        private long _declaredLength = -1; // the application's Content-Length, or -1

        public ResponseBodyStream(OwinCall call)
        {
            _call = call;
            _request = call.Request;
            _head = _request.IsHead;
        }

        /// <summary>True once status and headers are fixed (the first write or flush).</summary>
        public bool HeadersSent
        {
            get { return _headFixed; }
        }

        public override bool CanRead
        {
            get { return false; }
        }

        public override bool CanSeek
        {
            get { return false; }
        }

        public override bool CanWrite
        {
            get { return !_done; }
        }

        public override long Length
        {
            get { throw new NotSupportedException("the response body is write-only"); }
        }

        public override long Position
        {
            get { throw new NotSupportedException("the response body is write-only"); }
            set { throw new NotSupportedException("the response body is write-only"); }
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            throw new NotSupportedException("the response body is write-only");
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            throw new NotSupportedException("the response body is write-only");
        }

        public override void SetLength(long value)
        {
            throw new NotSupportedException("the response body is write-only");
        }

        private static void CheckArguments(byte[] buffer, int offset, int count)
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
        }

        private void CheckWritable()
        {
            if (_done)
            {
                throw new InvalidOperationException("the response is complete: the application's Task has finished or the response failed");
            }
        }

        /// <summary>Accepts count bytes; returns true when they must go to the engine now.</summary>
        private bool Accept(byte[] buffer, int offset, int count)
        {
            CheckArguments(buffer, offset, count);
            CheckWritable();
            if (!_headFixed)
            {
                FixHead();
            }
            _written += count;
            if (_discardBody || _head || count == 0)
            {
                // HEAD: counted for the Content-Length, never sent nor checked against it (as Katana, Nowin, Kestrel).
                return false;
            }
            if (_declaredLength >= 0 && _written > _declaredLength)
            {
                string message = "the application wrote " + _written + " bytes, more than its Content-Length of "
                    + _declaredLength + "; ";
                throw new IOException(message + GiveUp(": " + message, ""));
            }
            if (_buffered + count <= BufferLimit)
            {
                EnsureBuffer(_buffered + count);
                ByteCopy.Copy(buffer, offset, _buffer, _buffered, count);
                _buffered += count;
                return false;
            }
            return true;
        }

        private void EnsureBuffer(int needed)
        {
            if (_buffer != null && _buffer.Length >= needed)
            {
                return;
            }
            if (_buffer == null)
            {
                byte[] spare = _spareBuffer;
                if (spare != null && spare.Length >= needed)
                {
                    _spareBuffer = null;
                    _buffer = spare;
                    return;
                }
            }
            int size = _buffer == null ? FirstBufferSize : _buffer.Length * 2;
            while (size < needed)
            {
                size *= 2;
            }
            if (size > BufferLimit)
            {
                size = BufferLimit;
            }
            var grown = new byte[size];
            if (_buffered > 0)
            {
                Buffer.BlockCopy(_buffer, 0, grown, 0, _buffered);
            }
            _buffer = grown;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (!Accept(buffer, offset, count))
            {
                return;
            }
            try
            {
                StartIfNeeded();
            }
            catch (Exception e)
            {
                throw ServerFailure(e);
            }
            // Synchronous: every await in the core meets a completed task, and GetResult rethrows its exception as is.
            SpillAsync(buffer, offset, count, true, CancellationToken.None).GetAwaiter().GetResult();
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Canceled(cancellationToken);
            }
            try
            {
                if (!Accept(buffer, offset, count))
                {
                    return Task.CompletedTask;
                }
                StartIfNeeded();
            }
            catch (Exception e)
            {
                return Failed(e is HaywireException ? ServerFailure(e) : e);
            }
            return SpillAsync(buffer, offset, count, false, cancellationToken);
        }

        /// <summary>
        /// The one write core, for Write and WriteAsync alike, once Accept said the bytes cannot
        /// wait in the buffer: the buffered bytes go out, then these — straight from the
        /// application's array when they fill a buffer themselves, else into the emptied buffer.
        /// </summary>
        private async Task SpillAsync(byte[] buffer, int offset, int count, bool sync, CancellationToken cancellationToken)
        {
            try
            {
                if (_buffered > 0)
                {
                    await SendAsync(_buffer, 0, _buffered, sync, cancellationToken).ConfigureAwait(false);
                    _buffered = 0;
                }
                if (count >= BufferLimit)
                {
                    await SendAsync(buffer, offset, count, sync, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    EnsureBuffer(count);
                    ByteCopy.Copy(buffer, offset, _buffer, 0, count);
                    _buffered = count;
                }
            }
            catch (Exception e)
            {
                throw WriteFailure(e, cancellationToken);
            }
        }

        /// <summary>The buffered bytes, then a flush, for Flush and FlushAsync alike.</summary>
        private async Task FlushCoreAsync(bool sync, CancellationToken cancellationToken)
        {
            try
            {
                if (_buffered > 0)
                {
                    await SendAsync(_buffer, 0, _buffered, sync, cancellationToken).ConfigureAwait(false);
                    _buffered = 0;
                }
                _request.Flush();
            }
            catch (Exception e)
            {
                throw WriteFailure(e, cancellationToken);
            }
        }

        /// <summary>Body bytes to the transport: on this thread (sync), or without blocking it.</summary>
        private Task SendAsync(byte[] buffer, int offset, int count, bool sync, CancellationToken cancellationToken)
        {
            if (sync)
            {
                _request.WriteBody(buffer, offset, count);
                return Task.CompletedTask;
            }
            return _request.WriteBodyAsync(buffer, offset, count, cancellationToken);
        }

        /// <summary>A write that failed: the caller's own cancellation as it is, anything else a server failure.</summary>
        private Exception WriteFailure(Exception e, CancellationToken cancellationToken)
        {
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                return e;
            }
            return ServerFailure(e);
        }

        public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback callback, object state)
        {
            return ToApm(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);
        }

        public override void EndWrite(IAsyncResult asyncResult)
        {
            ((Task)asyncResult).GetAwaiter().GetResult();
        }

        /// <summary>Sends the head, if not yet sent, and every buffered byte: the response streams from here.</summary>
        public override void Flush()
        {
            if (_done)
            {
                return;
            }
            if (!_headFixed)
            {
                FixHead();
            }
            if (_discardBody)
            {
                return;
            }
            try
            {
                StartIfNeeded();
            }
            catch (Exception e)
            {
                throw ServerFailure(e);
            }
            FlushCoreAsync(true, CancellationToken.None).GetAwaiter().GetResult();
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_done)
            {
                return Task.CompletedTask;
            }
            try
            {
                if (!_headFixed)
                {
                    FixHead();
                }
                if (_discardBody)
                {
                    return Task.CompletedTask;
                }
                StartIfNeeded();
            }
            catch (Exception e)
            {
                return Failed(e is HaywireException ? ServerFailure(e) : e);
            }
            // A head-only flush (SSE, long polling) completes here: the head goes to the client now.
            return FlushCoreAsync(false, cancellationToken);
        }

        /// <summary>The application closing the stream is harmless: the server ends the response.</summary>
        protected override void Dispose(bool disposing)
        {
        }

        private void StartIfNeeded()
        {
            if (!_started)
            {
                _started = true;
                _request.StartResponse(_status, _reason, _headers, _declaredLength);
            }
        }

        private static Task Failed(Exception e)
        {
            var source = new TaskCompletionSource<bool>();
            source.SetException(e);
            return source.Task;
        }

        private static Task Canceled(CancellationToken token)
        {
            var source = new TaskCompletionSource<bool>();
            source.SetCanceled();
            return source.Task;
        }

        private static IAsyncResult ToApm(Task task, AsyncCallback callback, object state)
        {
            var source = new TaskCompletionSource<bool>(state);
            task.ContinueWith(t =>
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
                    source.TrySetResult(true);
                }
                if (callback != null)
                {
                    callback(source.Task);
                }
            }, TaskScheduler.Default);
            return source.Task;
        }
    }
}
