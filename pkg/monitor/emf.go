package monitor

import (
	"io"
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
