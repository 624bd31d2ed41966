package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Lambda is a bootstrap binary running under the Lambda Runtime Interface
// Emulator (aws-lambda-rie), as Lambda runs provided.al2023 functions.
type Lambda struct {
	// Endpoint is the emulator's invoke URL.
	Endpoint string
	// Dir holds the emulator's log (rie.log).
	Dir string

	proc    *process
	started time.Time
	ports   []int

	mu         sync.Mutex
	firstReply time.Duration
}

// StartLambda runs the bootstrap at bootstrapPath under aws-lambda-rie,
// with both the emulator's address and the Runtime API address on free
// 127.0.0.1 ports (so emulators can run side by side). The bootstrap gets
// the current environment plus env (KEY=value), for example Stack.Env.
// AWS_LAMBDA_FUNCTION_TIMEOUT defaults to 30 seconds.
func StartLambda(ctx context.Context, bootstrapPath string, env []string) (*Lambda, error) {
	bootstrap, err := filepath.Abs(bootstrapPath)
	if err != nil {
		return nil, fmt.Errorf("devstack: lambda: %w", err)
	}
	if _, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("devstack: lambda: bootstrap: %w", err)
	}
	bin, err := Tools()
	if err != nil {
		return nil, err
	}
	env = append([]string{"AWS_LAMBDA_FUNCTION_TIMEOUT=30"}, env...)
	// Both ports are picked free; another process can take one before the
	// emulator binds it (errPortTaken): then again, on new ones.
	for range 2 {
		if l, err := startRIE(ctx, bin, bootstrap, env); !errors.Is(err, errPortTaken) {
			return l, err
		}
	}
	return startRIE(ctx, bin, bootstrap, env)
}

// startRIE is one try of StartLambda's: the emulator on two free ports.
func startRIE(ctx context.Context, bin, bootstrap string, env []string) (*Lambda, error) {
	dir, err := os.MkdirTemp("", "devstack-lambda-")
	if err != nil {
		return nil, fmt.Errorf("devstack: lambda: %w", err)
	}
	invokePort, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("devstack: lambda: %w", err)
	}
	apiPort, err := freePort()
	for err == nil && apiPort == invokePort {
		apiPort, err = freePort()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("devstack: lambda: %w", err)
	}
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(invokePort))
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
	l := &Lambda{
		Endpoint: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		Dir:      dir,
		ports:    []int{invokePort, apiPort},
		started:  time.Now(),
	}
	l.proc, err = startProcess("aws-lambda-rie", filepath.Join(bin, "aws-lambda-rie"), []string{
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		bootstrap,
	}, env, filepath.Join(dir, "rie.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("devstack: %w", err)
	}
	err = l.proc.waitReady(ctx, 30*time.Second, func() error {
		if !portOpen(invokePort) {
			return errNotReady
		}
		return nil
	})
	if errors.Is(err, errPortTaken) {
		os.RemoveAll(dir) // it has exited; its ports may be another's now
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err != nil {
		l.Stop()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	return l, nil
}

// InvokeError is an invocation that did not return the function's result:
// the emulator failed, or the function returned an error.
type InvokeError struct {
	Status int
	Body   []byte
}

// Error says the status and the body the emulator answered with.
func (e *InvokeError) Error() string {
	return fmt.Sprintf("lambda invoke: status %d: %s", e.Status, e.Body)
}

// Invoke sends payload to the function and returns its JSON result. A
// function error ({"errorMessage":..., "errorType":...}) is returned as an
// *InvokeError.
func (l *Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.Endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("devstack: lambda invoke: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devstack: lambda invoke: %w", l.proc.failure(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("devstack: lambda invoke: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || isFunctionError(body) {
		return body, &InvokeError{Status: resp.StatusCode, Body: body}
	}
	l.mu.Lock()
	if l.firstReply == 0 {
		l.firstReply = time.Since(l.started)
	}
	l.mu.Unlock()
	return body, nil
}

// isFunctionError reports whether body is Lambda's error shape.
func isFunctionError(body []byte) bool {
	var e struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    *string `json:"errorType"`
	}
	return json.Unmarshal(body, &e) == nil && e.ErrorMessage != nil && e.ErrorType != nil
}

// FirstAnswer returns the time from the emulator's start to the first
// successful Invoke answer, or 0 before there was one.
func (l *Lambda) FirstAnswer() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstReply
}

// Pid returns the emulator's process id; the bootstrap runs as its child.
func (l *Lambda) Pid() int { return l.proc.Pid() }

// Log returns the emulator's log, which includes the function's output.
func (l *Lambda) Log() string {
	b, _ := os.ReadFile(l.proc.logPath)
	return string(b)
}

// Stop stops the emulator and the function, checks their ports are closed
// and removes the log directory.
func (l *Lambda) Stop() error {
	err := l.proc.stop(3 * time.Second)
	if perr := waitPortsClosed(l.ports, 5*time.Second); err == nil {
		err = perr
	}
	os.RemoveAll(l.Dir)
	if err != nil {
		return fmt.Errorf("devstack: lambda stop: %w", err)
	}
	return nil
}
