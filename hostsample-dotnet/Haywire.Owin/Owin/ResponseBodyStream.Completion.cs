using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin
{
    // The end of the response: what remains goes out when the application's Task
    // completes, or the response is given up (500 before streaming, an abort after).
    internal sealed partial class ResponseBodyStream
    {
        /// <summary>The application's Task completed: send what remains and end the response.</summary>
        public void Finish()
        {
            if (_done)
            {
                return;
            }
            if (!_headFixed)
            {
                FixHead();
            }
            _done = true;
            if (!_started)
            {
                if (_discardBody)
                {
                    _request.Respond(500, null, NoHeaders, NoBytes, 0, 0);
                }
                else if (_head)
                {
                    // No body goes out; the Content-Length is the application's, else what it wrote.
                    long length = _declaredLength >= 0 ? _declaredLength : _written;
                    if (length == 0)
                    {
                        _request.Respond(_status, _reason, _headers, NoBytes, 0, 0);
                        Recycle();
                    }
                    else
                    {
                        _request.StartResponse(_status, _reason, _headers, length);
                        _request.EndResponse();
                    }
                }
                else if (_declaredLength >= 0 && _declaredLength != _written)
                {
                    GiveUp(": the application wrote " + _written + " bytes with a Content-Length of " + _declaredLength + "; ", "");
                }
                else
                {
                    _request.Respond(_status, _reason, _headers, _buffer ?? NoBytes, 0, _buffered);
                    Recycle();
                }
                return;
            }
            if (_buffered > 0)
            {
                _request.WriteBody(_buffer, 0, _buffered);
                _buffered = 0;
            }
            if (_declaredLength >= 0 && _written < _declaredLength && !_head)
            {
                GiveUp(": the application wrote " + _written + " bytes of its Content-Length of " + _declaredLength + "; ", "");
                return;
            }
            _request.EndResponse();
        }

        /// <summary>After Respond (which copied them): keeps the buffer and header list for this thread's next response.</summary>
        private void Recycle()
        {
            if (_buffer != null && _buffer.Length <= BufferLimit)
            {
                _spareBuffer = _buffer;
            }
            _buffer = null;
            _buffered = 0;
            if (_headers != null && !ReferenceEquals(_headers, NoHeaders) && _headers.Count <= 64)
            {
                _headers.Clear();
                _spareHeaders = _headers;
            }
            _headers = null;
            _call.ResponseHeadersDictionary.Recycle();
        }

        /// <summary>
        /// The application failed (§6.1): the response is given up (see GiveUp), traced as
        /// "METHOD /path failed (what happened): exception" unless trace is false.
        /// </summary>
        public void FailWith(Exception e, bool trace)
        {
            if (_done)
            {
                if (trace)
                {
                    _call.Server.Trace(_call.Describe() + " failed after its response was complete or given up: " + e);
                }
                return;
            }
            _headFixed = true;
            if (trace)
            {
                GiveUp(" failed (", "): " + e);
            }
            else
            {
                GiveUp(null, null);
            }
        }

        /// <summary>
        /// Gives the response up: 500 without the application's headers when nothing of it
        /// went to the engine yet (the buffered bytes are dropped); else CANCEL HOST_ABORT,
        /// after everything flushed (ring order is byte order), and the engine cuts the client
        /// connection, so the client never takes the response for complete; owin.CallCancelled
        /// then fires (§6.2), as in Katana and Nowin. Traces before (a test or a log reader
        /// may look once the client has its answer) traceHead + what happens + traceTail,
        /// unless traceHead is null. Returns what happens.
        /// </summary>
        private string GiveUp(string traceHead, string traceTail)
        {
            _done = true;
            _buffered = 0;
            string outcome = _started
                ? "the response was aborted: its head had gone out, the client connection is cut"
                : "answered 500";
            if (traceHead != null)
            {
                _call.Server.Trace(_call.Describe() + traceHead + outcome + traceTail);
            }
            try
            {
                if (_started)
                {
                    _request.Abort();
                }
                else
                {
                    _request.Respond(500, null, NoHeaders, NoBytes, 0, 0);
                }
            }
            catch (Exception e)
            {
                // The engine may be gone already; the response is lost either way.
                _call.Server.Trace(_call.Describe() + ": the response could not be given up: " + e.Message);
            }
            if (_started)
            {
                // On the thread pool: the application's callbacks must not run on (and could block) the pump.
                ThreadPool.UnsafeQueueUserWorkItem(CancelCall, _call);
            }
            return outcome;
        }

        private static readonly WaitCallback CancelCall = state => ((OwinCall)state).Cancel();

        /// <summary>A failure of the engine or the client connection: owin.CallCancelled fires (§6.2).</summary>
        private Exception ServerFailure(Exception e)
        {
            _call.Cancel();
            if (e is IOException || e is OperationCanceledException)
            {
                return e;
            }
            return new IOException("the response could not be sent: " + e.Message, e);
        }
    }
}
