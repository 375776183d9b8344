/**
 * AMD EPYC product lines with SEV-SNP, and how a report or a certificate names one. Siena (Genoa
 * family, models 0xA0–0xAF) uses the Genoa keys (KDS spec #57230, quoted in go-sev-guest PR #184).
 */
export type SnpProduct = "Milan" | "Genoa" | "Turin";

export const SNP_PRODUCTS: readonly SnpProduct[] = ["Milan", "Genoa", "Turin"];

/**
 * Product from the v3+ CPUID fields (family = extended family + base family, model = extended
 * model << 4 | base model), with the model ranges of virtee/sev `Generation::identify_cpu`.
 */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === 0x19) {
    if (model <= 0x0f) return "Milan";
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return "Genoa";
    return undefined;
  }
  if (family === 0x1a && model <= 0x11) return "Turin";
  return undefined;
}

/** Product from a VCEK/VLEK productName extension: `Milan-B0`, `Milan`, `Genoa`, `Turin`, … */
export function productFromName(name: string): SnpProduct | undefined {
  const line = name.split("-")[0];
  return SNP_PRODUCTS.find((p) => p === line);
}
