// Package lambdalog sets up the logs of fsxkms's Lambda functions: one
// JSON line per record on stdout, each carrying the requestId of the
// invocation it belongs to, without empty fields; the Lambda library's own
// lines (a handler's error) at ERROR, with the error as a JSON object rather
// than a string holding JSON; and a named error type for a failed
// invocation instead of the library's reflection of *errors.joinError.
package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Logger writes JSON records to w and knows the invocation being served.
// The Go runtime serves one invocation at a time per process, so the
// current request id is the one of every record written meanwhile.
type Logger struct {
	*slog.Logger
	current atomic.Value // string: the request id being served
}

// New returns a Logger on w and makes it slog's default and the sink of the
// standard library's log package (at ERROR), which the Lambda library
// writes its own lines to.
func New(w io.Writer) *Logger {
	l := &Logger{}
	l.current.Store("")
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: dropEmpty})
	l.Logger = slog.New(requestHandler{Handler: h, l: l})
	slog.SetDefault(l.Logger)
	log.SetFlags(0)
	log.SetOutput(libraryWriter{l.Logger})
	return l
}

// dropEmpty leaves out attributes with nothing in them: an empty string, a
// nil or an empty list.
func dropEmpty(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if v.String() == "" {
			return slog.Attr{}
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return slog.Attr{}
		case []string:
			if len(x) == 0 {
				return slog.Attr{}
			}
		}
	}
	return a
}

// requestHandler adds requestId to every record: the one in the record's
// context when the caller passed the invocation's, else the invocation
// being served.
type requestHandler struct {
	slog.Handler
	l *Logger
}

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	id := h.l.current.Load().(string)
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		id = lc.AwsRequestID
	}
	if id != "" {
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestHandler{Handler: h.Handler.WithAttrs(as), l: h.l}
}

func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{Handler: h.Handler.WithGroup(name), l: h.l}
}

// libraryWriter logs the standard log package's lines, which only the
// Lambda library writes (its report of a handler's error), at ERROR; a
// line that is a JSON object is kept as one.
type libraryWriter struct{ log *slog.Logger }

func (w libraryWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	if json.Valid(line) && bytes.HasPrefix(line, []byte("{")) {
		w.log.Error("Lambda runtime", "payload", json.RawMessage(bytes.Clone(line)))
	} else {
		w.log.Error("Lambda runtime", "message", string(line))
	}
	return len(p), nil
}

// InvocationFailed is what a failed invocation returns: the Lambda library
// reports the error's type name, so the failure shows as errorType
// "InvocationFailed" with the handler's message, whatever errors it joined.
type InvocationFailed struct{ Err error }

func (e *InvocationFailed) Error() string { return e.Err.Error() }

// Unwrap returns the handler's own error.
func (e *InvocationFailed) Unwrap() error { return e.Err }

// Handler wraps h, a handler of raw payloads: each invocation's request
// id is the current one for the logs while it runs, and its error is an
// *InvocationFailed.
func (l *Logger) Handler(h lambda.Handler) lambda.Handler {
	return handler(Func(l, h.Invoke))
}

// handler is a raw-payload function as a lambda.Handler.
type handler func(context.Context, []byte) ([]byte, error)

func (h handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) { return h(ctx, payload) }

// Func wraps f as Handler does, for lambda.StartHandlerFunc.
func Func[TIn, TOut any](l *Logger, f func(context.Context, TIn) (TOut, error)) func(context.Context, TIn) (TOut, error) {
	return func(ctx context.Context, in TIn) (TOut, error) {
		id := ""
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			id = lc.AwsRequestID
		}
		l.current.Store(id)
		defer l.current.Store("")
		out, err := f(ctx, in)
		if err != nil {
			return out, &InvocationFailed{Err: err}
		}
		return out, nil
	}
}
