"""The error messages of tfjpeg's two JPEG readers, in one place.

The Python marker parser (:mod:`tfjpeg.io.markers`, behind :func:`tfjpeg.io.read_jpeg`) and the
TF-only reader of SavedModels (:mod:`tfjpeg.io.graph`) refuse the same files with the same
messages: both format these templates (``str.format`` with named fields in Python; the graph
reader fills the same fields with string ops at run time). Fields are plain decimal numbers or
short names; hexadecimal bytes and marker names are passed already spelled (``hex2``,
:func:`marker_name`).
"""

from __future__ import annotations

__all__ = ["MARKER_NAMES", "SUPPORTED_TEXT", "UNSUPPORTED_SOF_KINDS", "hex2", "marker_name"]

SUPPORTED_TEXT = (
    "tfjpeg reads 8-bit baseline, extended-sequential and progressive Huffman-coded JPEGs "
    "with 1 (grayscale) or 3 (YCbCr or RGB) components"
)

#: Frame markers tfjpeg refuses, and what they are (capitalized in messages).
UNSUPPORTED_SOF_KINDS = {
    0xC3: "lossless (SOF3)",
    0xC5: "hierarchical differential sequential (SOF5)",
    0xC6: "hierarchical differential progressive (SOF6)",
    0xC7: "hierarchical differential lossless (SOF7)",
    0xCB: "lossless arithmetic-coded (SOF11)",
    0xCD: "hierarchical differential arithmetic sequential (SOF13)",
    0xCE: "hierarchical differential arithmetic progressive (SOF14)",
    0xCF: "hierarchical differential arithmetic lossless (SOF15)",
    0xDE: "hierarchical (DHP marker)",
    0xDF: "hierarchical (EXP marker)",
    0xF7: "JPEG-LS (SOF55)",
    0xF8: "JPEG-LS (LSE marker)",
}


def marker_name(code: int) -> str:
    """The name of marker ``FF code`` as messages spell it (``SOF2``, ``APP14``, ``RST3``)."""
    names = {
        0xD8: "SOI",
        0xD9: "EOI",
        0xDA: "SOS",
        0xDB: "DQT",
        0xC4: "DHT",
        0xDD: "DRI",
        0xDC: "DNL",
        0xCC: "DAC",
        0xFE: "COM",
        0x01: "TEM",
        0xC8: "JPG",
    }
    if code in names:
        return names[code]
    if 0xC0 <= code <= 0xCF:
        return f"SOF{code - 0xC0}"
    if 0xD0 <= code <= 0xD7:
        return f"RST{code - 0xD0}"
    if 0xE0 <= code <= 0xEF:
        return f"APP{code - 0xE0}"
    return f"0x{code:02X}"


def hex2(byte: int) -> str:
    """A byte as two upper-case hexadecimal digits."""
    return f"{byte:02X}"


# No quotes or backslashes in the messages: tf.debugging.Assert prints them escaped.

#: ``marker_name`` of every byte value (the graph reader gathers from it).
MARKER_NAMES = tuple(marker_name(c) for c in range(256))

# ------------------------------------------------------------------------------ the templates
EMPTY = "The JPEG data is empty (0 bytes)."
NOT_JPEG = (
    "Not a JPEG file: it does not start with the SOI marker FF D8 (starts with {start}){what}."
)
TRUNCATED = (
    "The JPEG data is truncated: it ends {where} (after {n} bytes), before the EOI marker. "
    "libjpeg would silently fill the missing part with zeros; re-download or re-export "
    "the file."
)
WHERE_BETWEEN = "between two segments"
WHERE_IN_MARKER = "inside a marker"
WHERE_IN_LENGTH = "inside the length of the {name} marker"
WHERE_IN_SEGMENT = "inside the {name} segment that starts at byte {at}"
WHERE_IN_SCAN = "inside the entropy-coded data of scan {scan}"
SEGMENT = "the {name} segment at byte {at}"
GARBAGE = (
    "Corrupt JPEG: expected a marker (0xFF) at byte {pos}, found 0x{byte} (garbage between "
    "segments)."
)
FF00 = "Corrupt JPEG: invalid marker FF 00 at byte {at}."
SECOND_SOI = "Corrupt JPEG: a second SOI marker at byte {at}."
BAD_LENGTH = (
    "Corrupt JPEG: the {name} segment at byte {at} has length {length} (must be at least 2)."
)
LENGTH_4 = "Corrupt JPEG: {where} must have length 4."
UNKNOWN_MARKER = "Corrupt JPEG: unknown or reserved marker FF {code} at byte {at}."
TOO_MANY_MARKERS = "The file has more than {limit} markers; refusing it as a likely decoding bomb."
# Frame header.
UNSUPPORTED_SOF = "{kind} JPEG is not supported; " + SUPPORTED_TEXT + "."
ARITHMETIC = (
    "Arithmetic-coded JPEG (SOF9/SOF10) is not supported: a truncated arithmetic scan decodes "
    "silently with zeros (libjpeg cannot report it), so its data cannot be trusted; "
    + SUPPORTED_TEXT
    + ". Convert it losslessly with `jpegtran -optimize in.jpg > out.jpg`."
)
SECOND_FRAME = "Corrupt JPEG: more than one frame header (second one is {where})."
FRAME_SHORT = "Corrupt JPEG: {where} is too short."
FRAME_LENGTH = (
    "Corrupt JPEG: {where} has length {length}, which does not match its {nf} components "
    "(expected {expected})."
)
PRECISION = (
    "{precision}-bit JPEG (sample precision {precision}) is not supported; " + SUPPORTED_TEXT + "."
)
BAD_PRECISION = "Corrupt JPEG: invalid sample precision {precision} in {where}."
NO_COMPONENTS = "Corrupt JPEG: {where} declares 0 components."
BAD_SAMPLING = "Corrupt JPEG: component {cid} has sampling factors {h}x{v} (must be 1..4)."
BAD_TABLE_SLOT = "Corrupt JPEG: component {cid} uses quantization table {tq} (must be 0..3)."
DUPLICATE_ID = "Corrupt JPEG: component id {cid} appears twice in {where}."
CMYK = (
    "{kind} JPEG with 4 components is not supported; " + SUPPORTED_TEXT + ". Convert it to RGB "
    "first (e.g. open it with Pillow and convert it to mode RGB)."
)
COMPONENTS = "JPEG with {nf} components is not supported; " + SUPPORTED_TEXT + "."
WIDTH_0 = "Corrupt JPEG: the frame header says the image width is 0."
HEIGHT_0 = (
    "JPEG whose height is given later by a DNL marker (height 0 in the frame header) is not "
    "supported."
)
MAX_DIMENSION = (
    "The image is {width}x{height} pixels; libjpeg reads at most {limit} pixels per side."
)
TOO_LARGE = (
    "The image is {width}x{height} = {pixels} pixels, more than the limit of {limit} (raise it "
    "with max_pixels=... or the TFJPEG_MAX_PIXELS environment variable if you trust the file)."
)
FRACTIONAL = (
    "Sampling factors {factors} are not integer ratios of the largest one (fractional "
    "subsampling), which libjpeg cannot decode."
)
# Tables.
DQT_PARAMS = (
    "Corrupt JPEG: {where} defines table {tq} with precision code {pq} (table must be 0..3, "
    "precision 0 or 1)."
)
SHORTER_THAN_TABLES = "Corrupt JPEG: {where} is shorter than its tables."
TOO_MANY_TABLES = (
    "Unsupported JPEG: {where} defines more than {limit} tables; refusing it as a likely "
    "decoding bomb."
)
DQT_ZERO = "Corrupt JPEG: quantization table {tq} contains a zero."
DHT_PARAMS = (
    "Corrupt JPEG: {where} defines Huffman table class {tc} slot {th} (class must be 0 or 1, "
    "slot 0..3)."
)
DHT_COUNT = "Corrupt JPEG: {where} has an invalid symbol count."
DHT_CODE_SPACE = (
    "Corrupt JPEG: the Huffman table in {where} has more codes of length ≤ {length} than fit in "
    "the code space."
)
DHT_DC_SYMBOL = "Corrupt JPEG: the DC Huffman table in {where} has a symbol > 15."
DAC_ODD = "Corrupt JPEG: {where} has an odd length."
DAC_INDEX = "Corrupt JPEG: {where} has a bad table index {index}."
DAC_VALUE = "Corrupt JPEG: {where} has a bad DC conditioning value."
TOO_MANY_METADATA = (
    "The file has more than {limit} APPn/COM metadata segments, which the jpeglib reader cannot "
    "hold; strip the metadata (e.g. re-save with Pillow)."
)
# Scans.
ADOBE_TRANSFORM = "Unknown Adobe colour transform code {code}; " + SUPPORTED_TEXT + "."
SOS_BEFORE_SOF = "Corrupt JPEG: {where} comes before any frame header (SOF)."
TOO_MANY_SCANS = "The file has more than {limit} scans; refusing it as a likely decoding bomb."
SOS_EMPTY = "Corrupt JPEG: {where} is empty."
SOS_LENGTH = (
    "Corrupt JPEG: {where} has {ns} components and length {length} (need 1..4 components and "
    "length 6 + 2·components)."
)
SOS_UNKNOWN_COMPONENT = "Corrupt JPEG: {where} refers to unknown component {cid}."
SOS_TWICE = "Corrupt JPEG: {where} lists component {cid} twice."
SOS_TABLE = "Corrupt JPEG: {where} selects entropy table {table} (must be 0..3)."
NO_HUFFMAN = (
    "Corrupt JPEG: component {cid} in {where} uses {kind} Huffman table {slot}, which is not "
    "defined."
)
MCU_BLOCKS = "Corrupt JPEG: {where} interleaves components whose MCU has more than 10 blocks."
PROGRESSIVE_PARAMS = (
    "Corrupt JPEG: invalid progressive scan parameters Ss={ss} Se={se} Ah={ah} Al={al} in {where}."
)
AC_BEFORE_DC = "Corrupt JPEG: AC scan for component {cid} before its DC scan ({where})."
INCONSISTENT_PROGRESSION = (
    "Corrupt JPEG: inconsistent progression sequence for component {cid} coefficient {k} ({where})."
)
SEQUENTIAL_PARAMS = (
    "Corrupt JPEG: sequential scan with progressive parameters Ss={ss} Se={se} Ah={ah} Al={al} in "
    "{where}."
)
TABLE_UNDEFINED = (
    "Corrupt JPEG: component {cid} uses quantization table {slot}, which is not defined before "
    "its first scan."
)
SEQUENTIAL_TWICE = (
    "Corrupt JPEG: component {cid} appears in more than one scan of a sequential JPEG."
)
SCAN_TOO_SHORT = (
    "The JPEG data is truncated: scan {scan} has {size} bytes of entropy-coded data, fewer than "
    "the {need} its {blocks} blocks need at least (a frame header that claims a larger image "
    "than the data holds). libjpeg would silently fill the missing part with zeros; re-download "
    "or re-export the file."
)
RST_WITHOUT_DRI = (
    "Corrupt JPEG: restart marker RST{found} in scan {scan}, which has no restart interval (DRI)."
)
RST_ORDER = (
    "Corrupt JPEG: restart markers out of order in scan {scan} (found RST{found} where "
    "RST{expected} was expected)."
)
# End of image.
EOI_WITHOUT_FRAME = "Corrupt JPEG: EOI reached without a frame header (SOF)."
EOI_WITHOUT_SCAN = "Corrupt JPEG: EOI reached without any scan (no image data)."
NEVER_SCANNED = (
    "Corrupt JPEG: component {cid} never receives scan data (its coefficients would silently be "
    "zero)."
)
INCOMPLETE_PROGRESSIVE = (
    "Incomplete progressive JPEG: coefficient {k} of component {cid} {missing} (scans are "
    "missing, e.g. a cut-off download); its exact quantized coefficients are unknown."
)
NEVER_CODED = "is never coded"
LACKS_BITS = "lacks its {bits} lowest bits"
# read_jpeg.
RGB_CODED = (
    "RGB-coded JPEG (components R, G, B without the YCbCr transform, e.g. cjpeg -rgb): its "
    "coefficients are not YCbCr, which the decoders of tfjpeg assume. decode_pixels decodes it; "
    "read_jpeg(..., allow_rgb=True) gives its coefficients (color space rgb)."
)
# The graph reader only (its coefficients come from decoded samples).
LARGE_TABLE = (
    "Unsupported JPEG for the in-graph reader: component {cid} uses a quantization table with an "
    "entry above 255 ({value}); its coefficients cannot be recovered exactly from 8-bit decoded "
    "samples. Read it with tfjpeg.io.read_jpeg."
)
WIDE_TABLE = (
    "Unsupported JPEG for the in-graph reader: component {cid} uses a quantization table written "
    "with 16-bit entries that all fit in 8 bits. No standard encoder writes one (libjpeg uses 16 "
    "bits only for entries above 255), and the in-graph reader, which recovers coefficients from "
    "decoded samples, does not serve such contrived tables. Read it with tfjpeg.io.read_jpeg."
)
UNRECOVERABLE = (
    "Unsupported JPEG for the in-graph reader: it cannot recover the coefficients of this file "
    "({percent} % of the {component} blocks clamp to 0 or 255 and none of the coefficients it "
    "finds for them decode back to the decoded samples within {tolerance} grey levels, so they "
    "are wrong; a quantization table that does not match the coefficients, such as a corrupted "
    "one, does this). Decode it with tfjpeg.decode or read its coefficients with "
    "tfjpeg.io.read_jpeg."
)
DECODE_FAILED = "Corrupt JPEG: libjpeg could not decode the scan data ({detail})."
