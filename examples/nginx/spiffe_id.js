// njs module for nginx: the SPIFFE ID of a verified client certificate, for `js_set`.
// nginx has no variable for a certificate's URI SAN, and njs no X.509 API, so this reads just enough
// DER: Certificate > tbsCertificate > [3] extensions > the subjectAltName extension (2.5.29.17) >
// its one uniformResourceIdentifier [6]. Bounded: input at most 16 KiB, at most 64 TLVs visited per
// level, lengths checked against their parent before use. Anything unexpected gives "" (deny).
var MAX_PEM = 16384;
var MAX_ITEMS = 64;
var MAX_URI = 2048;
var SAN_OID = [0x55, 0x1d, 0x11];

// One TLV at p inside [p, end): { tag, start, end } of its content, or null.
function tlv(b, p, end) {
    if (p + 2 > end) return null;
    var tag = b[p];
    var len = b[p + 1];
    p += 2;
    if (len & 0x80) {
        var n = len & 0x7f;
        if (n < 1 || n > 2 || p + n > end) return null;
        len = 0;
        for (var i = 0; i < n; i++) len = len * 256 + b[p++];
    }
    if (len > end - p) return null;
    return { tag: tag, start: p, end: p + len };
}

// The children of a constructed TLV, at most MAX_ITEMS; null if they do not tile it exactly.
function children(b, t) {
    var out = [];
    var p = t.start;
    while (p < t.end) {
        if (out.length === MAX_ITEMS) return null;
        var c = tlv(b, p, t.end);
        if (c === null) return null;
        out.push(c);
        p = c.end;
    }
    return out;
}

function isSanOid(b, t) {
    if (t.tag !== 0x06 || t.end - t.start !== SAN_OID.length) return false;
    for (var i = 0; i < SAN_OID.length; i++) if (b[t.start + i] !== SAN_OID[i]) return false;
    return true;
}

// The URI SAN of a DER certificate, or "" unless there is exactly one and it is a spiffe:// URI.
function uriSan(b) {
    var cert = tlv(b, 0, b.length);
    if (cert === null || cert.tag !== 0x30) return "";
    var tbs = tlv(b, cert.start, cert.end);
    if (tbs === null || tbs.tag !== 0x30) return "";
    var fields = children(b, tbs);
    if (fields === null) return "";
    var exts = null;
    for (var i = 0; i < fields.length; i++) if (fields[i].tag === 0xa3) exts = fields[i];
    if (exts === null) return "";
    var seq = tlv(b, exts.start, exts.end);
    if (seq === null || seq.tag !== 0x30) return "";
    var list = children(b, seq);
    if (list === null) return "";
    for (var j = 0; j < list.length; j++) {
        var parts = children(b, list[j]);
        if (parts === null || parts.length < 2 || !isSanOid(b, parts[0])) continue;
        var value = parts[parts.length - 1];
        if (value.tag !== 0x04) return "";
        var names = tlv(b, value.start, value.end);
        if (names === null || names.tag !== 0x30) return "";
        var gns = children(b, names);
        if (gns === null) return "";
        var uri = "";
        for (var k = 0; k < gns.length; k++) {
            if (gns[k].tag !== 0x86) continue;
            if (uri !== "" || gns[k].end - gns[k].start > MAX_URI) return ""; // an SVID has exactly one
            var s = "";
            for (var q = gns[k].start; q < gns[k].end; q++) {
                var c = b[q];
                if (c < 0x21 || c > 0x7e) return "";
                s += String.fromCharCode(c);
            }
            uri = s;
        }
        return uri.indexOf("spiffe://") === 0 ? uri : "";
    }
    return "";
}

// js_set $spiffe_id spiffe.id;
function id(r) {
    if (r.variables.ssl_client_verify !== "SUCCESS") return "";
    var pem = r.variables.ssl_client_raw_cert || "";
    if (pem.length > MAX_PEM) return "";
    var m = pem.match(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/);
    if (!m) return "";
    try {
        return uriSan(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
    } catch (e) {
        return "";
    }
}

export default { id: id };
