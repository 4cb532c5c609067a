/** The CLI's view of the package's name and version; the library's own module is src/package-info.ts. */
export { packageInfo, type PackageInfo } from "../package-info.js";
