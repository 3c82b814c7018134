package temporalx

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/secretbox"
)

// Metadata of an encrypted payload. The encoding is the one Temporal's own
// samples and tools use, so the Web UI labels such payloads correctly.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// Codec encrypts every payload with AES-256-GCM (TEMPORAL_CODEC_KEY):
// workflow inputs, results, queries and failures hold sign-up data (names,
// emails, phone numbers, recovery links) that must not sit in plain text in
// Temporal's database. The first key encrypts; every key decrypts, so keys
// can be rotated. Payloads that are not encrypted pass through, which keeps
// histories recorded before the codec (and their replay tests) readable.
type Codec struct {
	keys []*secretbox.Key
}

// NewCodec builds a codec; it needs at least one key.
func NewCodec(keys []*secretbox.Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("payload codec: no key")
	}
	return &Codec{keys: keys}, nil
}

// Encode implements converter.PayloadCodec.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) == EncodingEncrypted {
			out[i] = p
			continue
		}
		plain, err := p.Marshal()
		if err != nil {
			return nil, err
		}
		sealed, err := k.Seal(plain, nil)
		if err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(k.ID()),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		var key *secretbox.Key
		for _, k := range c.keys {
			if k.ID() == id {
				key = k
				break
			}
		}
		if key == nil {
			return nil, fmt.Errorf("payload codec: payload encrypted with unknown key %q", id)
		}
		plain, err := key.Open(p.GetData(), nil)
		if err != nil {
			return nil, fmt.Errorf("payload codec: %w", err)
		}
		dp := &commonpb.Payload{}
		if err := dp.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("payload codec: %w", err)
		}
		out[i] = dp
	}
	return out, nil
}

// DataConverter wraps the default converter with the codec; nil codec means
// the default converter.
func DataConverter(c *Codec) converter.DataConverter {
	if c == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter also encrypts failure messages and stack traces: an
// error can quote the data that caused it.
func FailureConverter(c *Codec) converter.FailureConverter {
	if c == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(c),
		EncodeCommonAttributes: true,
	})
}
