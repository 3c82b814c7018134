package temporalx

import (
	"bytes"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/secureops/secureops/internal/secretbox"
)

func key(t *testing.T) *secretbox.Key {
	t.Helper()
	s, err := secretbox.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := secretbox.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCodecRoundTripAndRotation(t *testing.T) {
	old, cur := key(t), key(t)
	oldCodec, _ := NewCodec([]*secretbox.Key{old})
	codec, err := NewCodec([]*secretbox.Key{cur, old})
	if err != nil {
		t.Fatal(err)
	}
	dc := converter.GetDefaultDataConverter()
	plain, err := dc.ToPayload(map[string]string{"email": "ana@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	if string(enc[0].Metadata[converter.MetadataEncoding]) != EncodingEncrypted || string(enc[0].Metadata[MetadataKeyID]) != cur.ID() ||
		bytes.Contains(enc[0].Data, []byte("ana@acme.test")) {
		t.Fatalf("not encrypted with the current key: %v", enc[0].Metadata)
	}
	// Encoding twice does not wrap twice.
	again, _ := codec.Encode(enc)
	if !bytes.Equal(again[0].Data, enc[0].Data) {
		t.Fatal("an encrypted payload was encrypted again")
	}
	byOld, _ := oldCodec.Encode([]*commonpb.Payload{plain})
	dec, err := codec.Decode([]*commonpb.Payload{enc[0], byOld[0], plain})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range dec {
		var v map[string]string
		if err := dc.FromPayload(p, &v); err != nil || v["email"] != "ana@acme.test" {
			t.Fatalf("payload %d: %v %v", i, v, err)
		}
	}
	// A payload of a key this process does not have is an error, not garbage.
	if _, err := oldCodec.Decode(enc); err == nil {
		t.Fatal("decoded with an unknown key")
	}
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := codec.Decode(enc); err == nil {
		t.Fatal("decoded a tampered payload")
	}
}
