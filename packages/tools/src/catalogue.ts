/** `@broker/tools/catalogue`: the former name of `@broker/tools/descriptors`, kept while code still imports it. */
export * from './descriptors';
