namespace Router.Fuzz;

/// <summary>
/// A quick, exception-free test that bytes might be one JSON value (RFC 8259), used to skip the
/// mutated documents that are plainly broken: having System.Text.Json reject each one costs an
/// exception, and at a million inputs those dominate the run. Sound for that purpose: it says
/// false only where <c>Utf8JsonReader</c> with default options (no comments, no trailing commas,
/// depth at most 64) throws too. It is more lenient elsewhere (it does not check UTF-8 inside
/// strings or surrogate escapes, and starts nothing with a byte order mark), leaving those
/// inputs to the real reader.
/// </summary>
internal static class JsonShape
{
    /// <summary>Nesting beyond this is rejected by the reader (its limit is 64); a margin keeps the test sound.</summary>
    private const int MaxDepth = 70;

    public static bool MayBeJson(ReadOnlySpan<byte> text)
    {
        if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            return true; // let the reader decide what a byte order mark means
        }

        var i = 0;
        SkipWhiteSpace(text, ref i);
        if (!Value(text, ref i, 0))
        {
            return false;
        }

        SkipWhiteSpace(text, ref i);
        return i == text.Length;
    }

    private static bool Value(ReadOnlySpan<byte> text, ref int i, int depth)
    {
        if (i >= text.Length || depth > MaxDepth)
        {
            return false;
        }

        switch (text[i])
        {
            case (byte)'{':
                return Container(text, ref i, depth, (byte)'}', members: true);
            case (byte)'[':
                return Container(text, ref i, depth, (byte)']', members: false);
            case (byte)'"':
                return String(text, ref i);
            case (byte)'t':
                return Literal(text, ref i, "true"u8);
            case (byte)'f':
                return Literal(text, ref i, "false"u8);
            case (byte)'n':
                return Literal(text, ref i, "null"u8);
            default:
                return Number(text, ref i);
        }
    }

    private static bool Container(ReadOnlySpan<byte> text, ref int i, int depth, byte close, bool members)
    {
        i++;
        SkipWhiteSpace(text, ref i);
        if (i < text.Length && text[i] == close)
        {
            i++;
            return true;
        }

        while (true)
        {
            SkipWhiteSpace(text, ref i);
            if (members)
            {
                if (i >= text.Length || text[i] != '"' || !String(text, ref i))
                {
                    return false;
                }

                SkipWhiteSpace(text, ref i);
                if (i >= text.Length || text[i] != ':')
                {
                    return false;
                }

                i++;
                SkipWhiteSpace(text, ref i);
            }

            if (!Value(text, ref i, depth + 1))
            {
                return false;
            }

            SkipWhiteSpace(text, ref i);
            if (i >= text.Length)
            {
                return false;
            }

            if (text[i] == close)
            {
                i++;
                return true;
            }

            if (text[i] != ',')
            {
                return false;
            }

            i++;
        }
    }

    private static bool String(ReadOnlySpan<byte> text, ref int i)
    {
        i++;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"')
            {
                i++;
                return true;
            }

            if (c < 0x20)
            {
                return false;
            }

            if (c == '\\')
            {
                if (i + 1 >= text.Length)
                {
                    return false;
                }

                var escape = text[i + 1];
                if (escape == 'u')
                {
                    if (i + 6 > text.Length || !IsHex(text[i + 2]) || !IsHex(text[i + 3]) || !IsHex(text[i + 4]) || !IsHex(text[i + 5]))
                    {
                        return false;
                    }

                    i += 6;
                    continue;
                }

                if (escape is not ((byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t'))
                {
                    return false;
                }

                i += 2;
                continue;
            }

            i++;
        }

        return false;
    }

    private static bool Number(ReadOnlySpan<byte> text, ref int i)
    {
        if (i < text.Length && text[i] == '-')
        {
            i++;
        }

        if (i >= text.Length || !IsDigit(text[i]))
        {
            return false;
        }

        if (text[i] == '0')
        {
            i++;
        }
        else
        {
            SkipDigits(text, ref i);
        }

        if (i < text.Length && text[i] == '.')
        {
            i++;
            if (i >= text.Length || !IsDigit(text[i]))
            {
                return false;
            }

            SkipDigits(text, ref i);
        }

        if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
        {
            i++;
            if (i < text.Length && (text[i] == '+' || text[i] == '-'))
            {
                i++;
            }

            if (i >= text.Length || !IsDigit(text[i]))
            {
                return false;
            }

            SkipDigits(text, ref i);
        }

        return true;
    }

    private static bool Literal(ReadOnlySpan<byte> text, ref int i, ReadOnlySpan<byte> literal)
    {
        if (!text[i..].StartsWith(literal))
        {
            return false;
        }

        i += literal.Length;
        return true;
    }

    private static void SkipWhiteSpace(ReadOnlySpan<byte> text, ref int i)
    {
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            i++;
        }
    }

    private static void SkipDigits(ReadOnlySpan<byte> text, ref int i)
    {
        while (i < text.Length && IsDigit(text[i]))
        {
            i++;
        }
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';

    private static bool IsHex(byte c) => IsDigit(c) || c is >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
}
