package stopstr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	s := New([]string{"</s>", "END"})
	require.Equal(t, 3, s.HoldBack([]byte("abc</s")))
	require.Equal(t, 1, s.HoldBack([]byte("abcE")))
	require.Equal(t, 2, s.HoldBack([]byte("abcEN")))
	require.Equal(t, 0, s.HoldBack([]byte("abc")))
	require.Equal(t, 0, s.HoldBack([]byte("")))
	require.Equal(t, 0, New(nil).HoldBack([]byte("abc")))
	require.Equal(t, 2, s.Find([]byte("abEND</s>")))
	require.Equal(t, 2, s.Find([]byte("ab</s>END")), "the first one in the text, whichever string it is")
	require.Equal(t, -1, s.Find([]byte("abEN")))
	require.Equal(t, -1, New(nil).Find([]byte("abc")))
}
