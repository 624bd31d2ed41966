package monitor

import (
	"io"
	"os"
	"time"

	"github.com/fsxkms/fsxkms/internal/emf"
)

// Namespace is the CloudWatch namespace of fsxkms's metrics.
const Namespace = emf.Namespace

// writeEMF writes values as one CloudWatch Embedded Metric Format line, the
// monitor's and the Security Hub exporter's form: see [emf.Write].
func writeEMF(w io.Writer, now time.Time, stack, function string, values map[string]float64) error {
	return emf.Write(w, now, stack, function, values)
}

func (m *Monitor) metrics() io.Writer {
	if m.Metrics != nil {
		return m.Metrics
	}
	return os.Stdout
}

// emit writes one CloudWatch Embedded Metric Format line.
func (m *Monitor) emit(values map[string]float64) {
	fn := m.Function
	if fn == "" {
		fn = "fsxkms"
	}
	if err := writeEMF(m.metrics(), m.now(), m.Stack, fn, values); err != nil {
		m.log().Warn("metrics not written", "error", err.Error())
	}
}
