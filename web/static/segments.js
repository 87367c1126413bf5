// SMS segment count as the carrier counts it (same rule as comms/segments.py): GSM-7 or UCS-2.
const GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED = "^{}\\[~]|€\f";

export function countSegments(body) {
  const chars = [...body];
  if (chars.every((c) => GSM7_BASIC.includes(c) || GSM7_EXTENDED.includes(c))) {
    const septets = chars.reduce((n, c) => n + (GSM7_EXTENDED.includes(c) ? 2 : 1), 0);
    return { encoding: "GSM-7", segments: septets <= 160 ? 1 : Math.ceil(septets / 153), characters: chars.length };
  }
  const units = body.length; // UTF-16 code units: an emoji counts two
  return { encoding: "UCS-2", segments: units <= 70 ? 1 : Math.ceil(units / 67), characters: chars.length };
}
