// cluster-key-slot ships no types: the one function Parley uses (the hash slot of a key, hash tags honoured).
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string): number;
}
